using System.Text.Json;
using FpgaScore.Bench;

// bench/clients.py's C# worker: one plan (a JSON line) on stdin, one report (a JSON line) on stdout.
return await Worker.MainAsync(Console.In, Console.Out, Console.Error);

namespace FpgaScore.Bench
{
    /// <summary>
    /// The worker, as thin as the conformance driver: it reads the plan (<see cref="Plan"/>), sets up each side (the
    /// public client or the raw generated stub, <see cref="Callers"/>), runs the phases (<see cref="PlanRunner"/>)
    /// and prints the raw timings, <c>{"language":"csharp","warmup":{"rounds":R,"seconds":S,"methods_compiled":M,
    /// "last_round_jit_share":F,"settled":B},"phases":[{"side":"a","latencies_ms":[...],"wall_ms":W,"cpu_ms":C},...]}</c>. All planning and all statistics are bench/clients.py's. Exit 2: a bad plan; exit 1: a
    /// call failed; nothing on stdout either way.
    /// </summary>
    internal static class Worker
    {
        public static async Task<int> MainAsync(TextReader stdin, TextWriter stdout, TextWriter stderr)
        {
            Plan plan;
            try
            {
                plan = Plan.Read(await stdin.ReadLineAsync());
            }
            catch (PlanException e)
            {
                await stderr.WriteLineAsync($"FpgaScore.Bench: bad plan: {e.Message}");
                return 2;
            }
            try
            {
                var payload = Payload.Load(plan.Payload, plan.Image ?? "");
                var callers = plan.Sides.ToDictionary(s => s.Name, s => Callers.Create(s.Mode, plan, payload));
                try
                {
                    var result = await PlanRunner.RunAsync(plan, callers);
                    await stdout.WriteLineAsync(JsonSerializer.Serialize(
                        new { language = "csharp", warmup = result.Warmup, phases = result.Phases }, Plan.Json));
                }
                finally
                {
                    foreach (var caller in callers.Values) caller.Dispose();
                }
                return 0;
            }
            catch (Exception e)
            {
                await stderr.WriteLineAsync($"FpgaScore.Bench: a call failed: {e.GetType().Name}: {e.Message}");
                return 1;
            }
        }
    }
}
