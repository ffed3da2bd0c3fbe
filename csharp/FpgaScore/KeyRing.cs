using Grpc.Core;

namespace FpgaScore;

/// <summary>The primary and optional secondary key, which one later calls use, and how a key is sent.</summary>
internal sealed class KeyRing
{
    public const string AuthorizationKey = "authorization";

    private readonly string[] _keys;
    private readonly AuthScheme _scheme;
    private int _current;

    /// <param name="primary">The key calls use first.</param>
    /// <param name="secondary">The key a call repeats with once after <c>Unauthenticated</c>.</param>
    /// <param name="scheme">How a key is written.</param>
    /// <param name="primaryName">The primary key's setting, named by the errors (e.g. <c>AdminToken</c>).</param>
    public KeyRing(string? primary, string? secondary, AuthScheme scheme, string primaryName = "AccessToken")
    {
        // Surrounding whitespace is trimmed (a key read from a file keeps its newline); a key that is then empty or
        // holds a character a header cannot carry is refused, naming the problem and never the key (CLIENT_SPEC.md).
        primary = Checked(primaryName, primary);
        secondary = Checked("SecondaryAccessToken", secondary);
        if (secondary is not null && primary is null)
            throw Invalid("SecondaryAccessToken needs AccessToken");
        if (scheme is not (AuthScheme.Raw or AuthScheme.Bearer))
            throw Invalid($"unknown AuthScheme {(int)scheme}");
        _keys = new[] { primary, secondary }.Where(k => k is not null).Select(k => k!).ToArray();
        _scheme = scheme;
        _credentials = _keys.Select(key => Credential(scheme == AuthScheme.Bearer ? "Bearer " + key : key)).ToArray();
    }

    private readonly CallCredentials[] _credentials;

    /// <summary>The key as gRPC call credentials: the <c>authorization</c> entry of every call made with them.</summary>
    private static CallCredentials Credential(string value) => CallCredentials.FromInterceptor((_, metadata) =>
    {
        metadata.Add(AuthorizationKey, value);
        return Task.CompletedTask;
    });

    /// <summary>The call credentials of key <paramref name="index"/>; null when there is no key.</summary>
    public CallCredentials? Credentials(int index) => index >= 0 && index < _credentials.Length ? _credentials[index] : null;

    private static string? Checked(string name, string? key)
    {
        if (key is null) return null;
        var trimmed = key.Trim();
        if (trimmed.Length == 0) throw Invalid($"{name} is empty");
        for (var i = 0; i < trimmed.Length; i++)
        {
            var c = trimmed[i];
            if (c < 0x20 || c > 0x7e)
                throw Invalid($"{name} holds a character that is not printable ASCII (U+{(int)c:X4} at position {i + 1} " +
                              $"of {trimmed.Length}); a key is sent as a header value");
        }
        return trimmed;
    }

    public bool HasKey => _keys.Length > 0;

    public bool HasSecondary => _keys.Length == 2;

    /// <summary>The keys, for redaction only.</summary>
    public IReadOnlyList<string> Secrets => _keys;

    /// <summary>Index of the key later calls use (0 primary, 1 secondary); -1 when there is no key.</summary>
    public int Current => _keys.Length == 0 ? -1 : Volatile.Read(ref _current);

    public static int Other(int index) => 1 - index;

    /// <summary>
    /// Makes later calls use key <paramref name="to"/> (after it worked where <paramref name="from"/> did not), unless
    /// another call already changed the key in use since this one started with <paramref name="from"/>.
    /// </summary>
    public void Prefer(int from, int to)
    {
        if (_keys.Length == 2) Interlocked.CompareExchange(ref _current, to, from);
    }

    /// <summary>Whether a metadata key is <c>authorization</c> (any case), which only the client itself sets.</summary>
    public static bool IsAuthorization(string key) => string.Equals(key, AuthorizationKey, StringComparison.OrdinalIgnoreCase);

    /// <summary>Replaces every key in <paramref name="text"/> by <c>&lt;redacted&gt;</c>.</summary>
    public string Redact(string text)
    {
        foreach (var key in _keys)
            text = text.Replace(key, "<redacted>", StringComparison.Ordinal);
        return text;
    }

    public override string ToString() => $"KeyRing(keys={_keys.Length}, scheme={_scheme}, in_use={Current})";

    private static ScoringException Invalid(string message) => new(StatusCode.InvalidArgument, message);
}
