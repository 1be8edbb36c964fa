using BenchmarkDotNet.Running;

// Every benchmark class in this assembly is selectable; pick with --filter, e.g.
//   dotnet run -c Release --project tests/Benchmarks -- --filter '*ShareCheck*' --job short
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
