using System.ComponentModel;
using Microsoft.Extensions.Configuration;

namespace PoolCluster.Hosting;

/// <summary>
/// Checks a configuration section against the options type it binds to: keys the type has no setting for (a
/// misspelling would otherwise silently leave the default in place) and values the binder cannot convert (checked
/// before binding, where the binder would throw). Every problem names the full key, e.g. "Stratum:Prot".
/// </summary>
internal static class ConfigurationSectionChecker
{
    private const int MaxDepth = 16;

    private const string Refused = "; unknown keys are refused so that a misspelled setting cannot silently keep its default";

    public static (List<string> UnknownKeys, List<string> BadValues) Check(IConfigurationSection section, Type optionsType)
    {
        var problems = new Problems([], []);
        CheckObjectChildren(section, optionsType, problems, 0);
        return (problems.UnknownKeys, problems.BadValues);
    }

    private sealed record Problems(List<string> UnknownKeys, List<string> BadValues);

    private static void Check(IConfigurationSection section, Type type, Problems problems, int depth)
    {
        if (depth > MaxDepth)
            return;
        switch (OptionsShape.Classify(type, out var elementType))
        {
            case OptionsShapeKind.Value:
                CheckValue(section, type, problems);
                foreach (var child in section.GetChildren())
                    problems.UnknownKeys.Add($"{child.Path}: unknown key: {section.Path} is a single value, with no settings below it{Refused}");
                break;
            case OptionsShapeKind.List:
                foreach (var child in section.GetChildren())
                {
                    if (!int.TryParse(child.Key, out _))
                        problems.UnknownKeys.Add($"{child.Path}: unknown key: {section.Path} is a list, its entries are numbered 0, 1, 2...{Refused}");
                    else
                        Check(child, elementType, problems, depth + 1);
                }
                break;
            case OptionsShapeKind.Dictionary:
                foreach (var child in section.GetChildren())
                    Check(child, elementType, problems, depth + 1);
                break;
            case OptionsShapeKind.Object:
                CheckObjectChildren(section, type, problems, depth);
                break;
        }
    }

    private static void CheckObjectChildren(IConfigurationSection section, Type type, Problems problems, int depth)
    {
        var settings = OptionsShape.Settings(type);
        foreach (var child in section.GetChildren())
        {
            if (settings.TryGetValue(child.Key, out var property))
                Check(child, property.PropertyType, problems, depth + 1);
            else
                problems.UnknownKeys.Add($"{child.Path}: unknown key: {type.Name} has no setting '{child.Key}' "
                    + $"(known: {string.Join(", ", settings.Keys.Order(StringComparer.OrdinalIgnoreCase))}){Refused}");
        }
    }

    private static void CheckValue(IConfigurationSection section, Type type, Problems problems)
    {
        var value = section.Value;
        var underlying = Nullable.GetUnderlyingType(type);
        // As the binder: no value leaves the default; an empty value is null for a nullable type.
        if (value is null || type == typeof(string) || type == typeof(object) || (underlying != null && value.Length == 0))
            return;
        var target = underlying ?? type;
        try
        {
            if (target == typeof(byte[]))
                Convert.FromBase64String(value);
            else
                TypeDescriptor.GetConverter(target).ConvertFromInvariantString(value);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or OverflowException
                                       || e.InnerException is FormatException or OverflowException)
        {
            var expected = target.IsEnum ? $"one of {string.Join(", ", Enum.GetNames(target))}" : $"a {Describe(target)}";
            problems.BadValues.Add($"{section.Path}: '{value}' is not {expected}");
        }
    }

    private static string Describe(Type type) => type == typeof(byte[]) ? "base64 string" : type.Name switch
    {
        "Int32" or "Int64" or "Int16" or "UInt32" or "UInt64" or "UInt16" or "Byte" or "SByte" => $"whole number ({type.Name})",
        "Boolean" => "boolean (true or false)",
        "TimeSpan" => "time span (e.g. 00:00:30)",
        _ => type.Name,
    };
}
