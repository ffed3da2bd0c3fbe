using System.Text;
using FpgaScore.Conformance;
using Dp = FpgaScore.Conformance.V1;

// The driver protocol (proto/fpgascore/conformance/v1/driver.proto): the runner's Hello, answered with a
// HelloAnswer; then one DriverRequest per line, each answered with one DriverAnswer, in order, flushed after each.
var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
using var stdin = new StreamReader(Console.OpenStandardInput(), Encoding.UTF8);
using var driver = new Driver();
var first = true;
while (await stdin.ReadLineAsync() is { } line)
{
    if (string.IsNullOrWhiteSpace(line)) continue;
    if (first)
    {
        // Whatever the runner's version, say ours: the runner decides.
        first = false;
        Dp.Hello? hello = null;
        try
        {
            hello = Protocol.Parse<Dp.Hello>(line);
        }
        catch (BadRequestException)
        {
        }
        if (string.IsNullOrEmpty(hello?.ProtocolVersion))
        {
            await Console.Error.WriteLineAsync($"FpgaScore.Conformance: the first line is not a Hello with a protocolVersion: {line[..Math.Min(200, line.Length)]}");
            return 2;
        }
        await stdout.WriteLineAsync(Protocol.Formatter.Format(Protocol.HelloAnswer()));
        continue;
    }
    await stdout.WriteLineAsync(Protocol.Formatter.Format(await driver.AnswerAsync(line)));
}
return 0;
