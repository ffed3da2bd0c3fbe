using FpgaScore.Cli;

if (args.Length == 0)
{
    Console.Error.WriteLine($"fpgascore: no command given\n{CliArguments.Usage}");
    return 2;
}
if (args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(CliArguments.Usage);
    return 0;
}
if (args[0] is "--version" or "-V" or "version")
{
    Console.WriteLine(CliArguments.VersionLine);
    return 0;
}
if (args[0] is "service" or "model")
{
    // Ctrl+C cancels the call in flight (exit 130); a second one ends the process at once.
    using var cancel = new CancellationTokenSource();
    void OnCancel(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = !cancel.IsCancellationRequested;
        cancel.Cancel();
    }
    Console.CancelKeyPress += OnCancel;
    try
    {
        return await DeployCommand.MainAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable, cancel.Token);
    }
    finally
    {
        Console.CancelKeyPress -= OnCancel; // before the source is disposed
    }
}
if (args[0] != "score")
{
    Console.Error.WriteLine($"fpgascore: unknown command '{args[0]}'\n{CliArguments.Usage}");
    return 2;
}
CliArguments parsed;
try
{
    parsed = CliArguments.Parse(args[1..]);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"fpgascore: {e.Message}\n{CliArguments.Usage}");
    return 2;
}
if (parsed.Help)
{
    Console.WriteLine(CliArguments.Usage);
    return 0;
}
if (parsed.Version)
{
    Console.WriteLine(CliArguments.VersionLine);
    return 0;
}
return await ScoreCommand.RunAsync(parsed, Console.Out, Console.Error);
