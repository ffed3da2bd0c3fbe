namespace FpgaScore;

/// <summary>How the access key is written into the <c>authorization</c> metadata.</summary>
public enum AuthScheme
{
    /// <summary>The key itself (the default): <c>authorization: KEY</c>.</summary>
    Raw = 0,

    /// <summary>The OAuth form: <c>authorization: Bearer KEY</c>.</summary>
    Bearer = 1,
}
