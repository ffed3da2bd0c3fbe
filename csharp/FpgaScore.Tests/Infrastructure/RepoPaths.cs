namespace FpgaScore.Tests.Infrastructure;

/// <summary>Paths in the repository, found by walking up from the test assembly's folder.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The repository root (the folder holding <c>scripts/run-emulator</c>).</summary>
    public static string Root => s_root.Value;

    /// <summary><c>scripts/run-emulator</c>: the reference server's one launch command.</summary>
    public static string Emulator => Script("run-emulator");

    public static string Script(string name) => Path.Combine(Root, "scripts", name);

    public static string Vectors(string name) => Path.Combine(Root, "tests", "vectors", name);

    public static string Image(string name) => Path.Combine(Root, "conformance", "testdata", "images", name);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "scripts", "run-emulator")) || Directory.Exists(Path.Combine(dir.FullName, "proto", "fpgascore")))
                return dir.FullName;
        throw new InvalidOperationException($"no repository root above {AppContext.BaseDirectory}");
    }
}
