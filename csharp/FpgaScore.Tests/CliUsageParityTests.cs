using FpgaScore.Cli;
using FpgaScore.Tests.Infrastructure;

namespace FpgaScore.Tests;

/// <summary>The C# and the Python <c>service</c>/<c>model</c> commands exit alike on usage and configuration errors (a class
/// of its own: xunit runs it beside <see cref="CliParityTests"/>, which needs a manager).</summary>
public sealed class CliUsageParityTests
{
    /// <summary>Usage and configuration: exit 2 from both, before any call (the usage text is each command's own: argparse's in
    /// Python). No manager: a call would fail with exit 1.</summary>
    [Theory]
    [InlineData("service")]
    [InlineData("service", "frobnicate", "x")]
    [InlineData("service", "get")]
    [InlineData("service", "get", "x", "--replicas", "2")]
    [InlineData("service", "regenerate-keys", "x", "--type", "tertiary")]
    [InlineData("model", "register", "--description", "no name")]
    [InlineData("service", "list", "--admin-token-env", "UNSET_TOKEN_VARIABLE")]
    public async Task UsageIsExitTwoInBoth(params string[] args)
    {
        var env = new Dictionary<string, string>
        {
            [DeploymentClientOptions.AdminTokenEnvironmentVariable] = "admin-token-never-sent-0123456789",
            [DeploySettings.ManagerEnvironmentVariable] = "127.0.0.1:1",
        };
        var (cs, py) = (await Commands.CSharpAsync(env, args), await Commands.PythonAsync(env, args));
        Assert.True(cs.Code == 2 && py.Code == 2, $"C#: {cs}\nPython: {py}");
        Assert.Equal(("", ""), (cs.Stdout, py.Stdout));
    }
}
