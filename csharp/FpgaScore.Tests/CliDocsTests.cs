using System.Text.RegularExpressions;
using FpgaScore.Tests.Infrastructure;

namespace FpgaScore.Tests;

/// <summary>
/// The example of csharp/FpgaScore.Cli/README.md ("Services and models", marked <c>run-by</c> this file for
/// tests/docs/test_snippets.py), line by line through the C# command against a real manager: each line exits 0, with
/// <c>tls/</c> the run's certificates and the files it writes in a folder of the test's own.
/// </summary>
public sealed partial class CliDocsTests
{
    private const string Readme = "csharp/FpgaScore.Cli/README.md";

    [Fact]
    public async Task TheReadmesServiceExampleRuns()
    {
        var lines = Block();
        Assert.True(lines.Count >= 8, string.Join("\n", lines));
        using var manager = await Manager.StartAsync();
        using var pki = new Pki();
        var folder = Path.Combine(RunDirectory.Path, "docs-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(folder);
        var env = Commands.EnvironmentOf(manager);
        try
        {
            var outputs = new List<string>();
            foreach (var line in lines)
            {
                var args = Words(line).Select(w => w.StartsWith("tls/", StringComparison.Ordinal) ? Path.Combine(pki.Directory, w[4..])
                    : w.EndsWith(".yaml", StringComparison.Ordinal) ? Path.Combine(folder, w) : w).ToArray();
                Assert.Equal("fpgascore", args[0]);
                var result = await Commands.CSharpAsync(env, args[1..]);
                Assert.True(result.Code == 0, $"{Readme}: {line}\n{result}");
                outputs.Add(result.Stdout);
            }
            Assert.Contains("secondary key: ", outputs[1]); // create printed the keys
            Assert.True(File.Exists(Path.Combine(folder, "demo.yaml")));
            Assert.Equal("service demo deleted\n", outputs[^1]);
        }
        finally
        {
            Directory.Delete(folder, true);
        }
    }

    /// <summary>The command lines of the README's block marked <c>run-by</c> this file (comments dropped).</summary>
    private static List<string> Block()
    {
        var text = File.ReadAllLines(Path.Combine(RepoPaths.Root, Readme));
        var marker = Array.FindIndex(text, l => l.Contains("snippet: run-by csharp/FpgaScore.Tests/CliDocsTests.cs", StringComparison.Ordinal));
        Assert.True(marker >= 0 && text[marker + 1] == "```sh", $"{Readme}: no sh block marked run-by CliDocsTests.cs");
        return [.. text.Skip(marker + 2).TakeWhile(l => l != "```").Select(l => Comment().Replace(l, "").Trim()).Where(l => l.Length > 0)];
    }

    /// <summary>The words of a shell line: whitespace-separated, a "double-quoted" one whole.</summary>
    private static IEnumerable<string> Words(string line) => Word().Matches(line).Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Value);

    [GeneratedRegex(@"\s+#.*$")]
    private static partial Regex Comment();

    [GeneratedRegex("\"([^\"]*)\"|\\S+")]
    private static partial Regex Word();
}
