namespace FpgaScore.Conformance;

/// <summary>The request line is not a valid driver request.</summary>
internal sealed class BadRequestException(string message) : Exception(message);
