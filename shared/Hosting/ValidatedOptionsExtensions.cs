using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace PoolCluster.Hosting;

public static class ValidatedOptionsExtensions
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to configuration section <paramref name="sectionName"/> (e.g. "Stratum"
    /// or "Kafka:Producer") and validates it when the host starts, so a bad value stops the service before it does
    /// anything. Refused at start, each failure naming its full key: keys the type has no setting for, values that do
    /// not convert, DataAnnotations attributes (nested objects and lists included) and
    /// <see cref="System.ComponentModel.DataAnnotations.IValidatableObject"/>. Inject <c>IOptions&lt;TOptions&gt;</c>.
    /// The returned builder takes further rules (<c>.Validate(o => ..., "message")</c>).
    /// </summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IHostApplicationBuilder builder, string sectionName)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(sectionName);
        var configuration = builder.Configuration;
        builder.Services.AddSingleton<IValidateOptions<TOptions>>(new PoolOptionsValidator<TOptions>(sectionName, configuration));
        return builder.Services.AddOptions<TOptions>()
            .Configure(options =>
            {
                var section = configuration.GetSection(sectionName);
                // A value the binder cannot convert makes it throw, so those are reported here, before binding
                // (with the unknown keys, for a complete list). Otherwise the validator reports unknown keys together
                // with the validation failures.
                var (unknownKeys, badValues) = ConfigurationSectionChecker.Check(section, typeof(TOptions));
                if (badValues.Count > 0)
                    throw new OptionsValidationException(Options.DefaultName, typeof(TOptions), [.. badValues, .. unknownKeys]);
                try
                {
                    section.Bind(options);
                }
                catch (InvalidOperationException e)
                {
                    // The checker mirrors the binder's conversions; this is the backstop for a case it does not know.
                    throw new OptionsValidationException(Options.DefaultName, typeof(TOptions),
                        [$"{sectionName}: {e.Message}{(e.InnerException is { } inner ? " " + inner.Message : "")}"]);
                }
            })
            .ValidateOnStart();
    }
}
