using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace PoolCluster.Hosting;

/// <summary>
/// Validates bound options: no unknown keys in their section, their DataAnnotations attributes and
/// IValidatableObject, nested settings objects and lists included. Each failure names its full configuration key
/// and the configured value: "Stratum:Port: The field Port must be between 1 and 65535 (was '70000')".
/// </summary>
internal sealed class PoolOptionsValidator<TOptions>(string sectionName, IConfiguration configuration) : IValidateOptions<TOptions>
    where TOptions : class
{
    private const int MaxDepth = 16;

    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        if (name != Options.DefaultName)
            return ValidateOptionsResult.Skip;
        var (failures, _) = ConfigurationSectionChecker.Check(configuration.GetSection(sectionName), typeof(TOptions));
        ValidateObject(options, sectionName, failures, 0);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private void ValidateObject(object instance, string path, List<string> failures, int depth)
    {
        if (depth > MaxDepth)
            return;
        var failuresBefore = failures.Count;
        foreach (var (key, property) in OptionsShape.Settings(instance.GetType()))
        {
            var propertyPath = $"{path}:{key}";
            var value = property.GetValue(instance);
            var context = new ValidationContext(instance) { MemberName = property.Name, DisplayName = key };
            foreach (var attribute in property.GetCustomAttributes<ValidationAttribute>(inherit: true))
            {
                if (attribute.GetValidationResult(value, context) is { } result && result != ValidationResult.Success)
                    failures.Add(Describe(propertyPath, result.ErrorMessage, withValue: true));
            }
            if (value != null)
                ValidateNested(value, property.PropertyType, propertyPath, failures, depth + 1);
        }

        // As System.ComponentModel.DataAnnotations.Validator: the object's own rules run once its fields are valid.
        if (failures.Count == failuresBefore && instance is IValidatableObject validatable)
        {
            foreach (var result in validatable.Validate(new ValidationContext(instance)))
            {
                var members = result.MemberNames.ToList();
                if (members.Count == 0)
                    failures.Add(Describe(path, result.ErrorMessage, withValue: false));
                foreach (var member in members)
                {
                    var memberKey = instance.GetType().GetProperty(member) is { } p ? OptionsShape.Key(p) : member;
                    failures.Add(Describe($"{path}:{memberKey}", result.ErrorMessage, withValue: true));
                }
            }
        }
    }

    private void ValidateNested(object value, Type declaredType, string path, List<string> failures, int depth)
    {
        switch (OptionsShape.Classify(declaredType, out var elementType))
        {
            case OptionsShapeKind.Object:
                ValidateObject(value, path, failures, depth);
                break;
            case OptionsShapeKind.List when OptionsShape.Classify(elementType, out _) == OptionsShapeKind.Object:
                var index = 0;
                foreach (var element in (IEnumerable)value)
                {
                    if (element != null)
                        ValidateObject(element, $"{path}:{index}", failures, depth);
                    index++;
                }
                break;
            case OptionsShapeKind.Dictionary when OptionsShape.Classify(elementType, out _) == OptionsShapeKind.Object:
                foreach (var entry in (IEnumerable)value)
                {
                    var entryType = entry.GetType();
                    var entryKey = entryType.GetProperty("Key")?.GetValue(entry);
                    if (entryType.GetProperty("Value")?.GetValue(entry) is { } entryValue)
                        ValidateObject(entryValue, $"{path}:{entryKey}", failures, depth);
                }
                break;
        }
    }

    private string Describe(string path, string? message, bool withValue)
    {
        message = (message ?? "is invalid").TrimEnd('.');
        if (!withValue)
            return $"{path}: {message}";
        var configured = configuration[path];
        return $"{path}: {message} ({(configured is null ? "not set" : $"was '{configured}'")})";
    }
}
