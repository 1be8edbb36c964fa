using System.ComponentModel;
using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace PoolCluster.Hosting;

/// <summary>How ConfigurationBinder sees a type: one value, a list, a dictionary, or an object with settings.</summary>
internal enum OptionsShapeKind
{
    Value,
    List,
    Dictionary,
    Object,
}

internal static class OptionsShape
{
    /// <summary>The shape of <paramref name="type"/>; for a list or dictionary also its element (value) type.</summary>
    public static OptionsShapeKind Classify(Type type, out Type elementType)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        elementType = type;
        if (type == typeof(string) || type == typeof(byte[]) || type == typeof(object)
            || TypeDescriptor.GetConverter(type).CanConvertFrom(typeof(string)))
            return OptionsShapeKind.Value;
        if (type.IsArray)
        {
            elementType = type.GetElementType()!;
            return OptionsShapeKind.List;
        }
        if ((FindGeneric(type, typeof(IDictionary<,>)) ?? FindGeneric(type, typeof(IReadOnlyDictionary<,>))) is { } dictionary)
        {
            elementType = dictionary.GetGenericArguments()[1];
            return OptionsShapeKind.Dictionary;
        }
        if (FindGeneric(type, typeof(IEnumerable<>)) is { } enumerable)
        {
            elementType = enumerable.GetGenericArguments()[0];
            return OptionsShapeKind.List;
        }
        return OptionsShapeKind.Object;
    }

    /// <summary>The public properties the binder can see, by configuration key (case-insensitive, as the binder).</summary>
    public static Dictionary<string, PropertyInfo> Settings(Type type)
    {
        var settings = new Dictionary<string, PropertyInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetMethod is { IsPublic: true } && property.GetIndexParameters().Length == 0)
                settings.TryAdd(Key(property), property);
        }
        return settings;
    }

    /// <summary>The configuration key of a property: its [ConfigurationKeyName] or its name.</summary>
    public static string Key(PropertyInfo property) =>
        property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;

    private static Type? FindGeneric(Type type, Type genericInterface)
    {
        if (type.IsGenericType && type.GetGenericTypeDefinition() == genericInterface)
            return type;
        return type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == genericInterface);
    }
}
