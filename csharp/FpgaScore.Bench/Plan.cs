using System.Text.Json;

namespace FpgaScore.Bench;

/// <summary>A plan that cannot be run: the worker exits 2 with its message.</summary>
internal sealed class PlanException(string message) : Exception(message);

/// <summary>One side of a plan: its name ("a", "b") and its mode, client or stub.</summary>
internal sealed record SidePlan(string Name, string Mode);

/// <summary>One phase of a plan: the side it calls and the calls of each worker.</summary>
internal sealed record PhasePlan(string Side, int CallsPerWorker);

/// <summary>
/// What bench/clients.py tells the worker to do (its make_plan), one JSON line: where to call, what to send, each
/// side's mode, the warm-up calls of each worker on each side, and the phases in order.
/// </summary>
internal sealed class Plan
{
    internal static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public string Host { get; init; } = "";
    public int Port { get; init; }
    public bool Tls { get; init; }
    /// <summary>PEM roots to trust (TLS); null: the system's.</summary>
    public string? Ca { get; init; }
    /// <summary>The environment variable holding the key (TLS); null: no key.</summary>
    public string? KeyEnv { get; init; }
    public string Payload { get; init; } = "";
    public string? Image { get; init; }
    public int Concurrency { get; init; }
    public int Warmup { get; init; }
    /// <summary>Seconds the warm-up may go on, in rounds, until the JIT is settled (<see cref="PlanRunner"/>);
    /// 0: the fixed warm-up only.</summary>
    public double JitSettleMaxS { get; init; }
    public List<SidePlan> Sides { get; init; } = [];
    public List<PhasePlan> Phases { get; init; } = [];
    /// <summary>The value of <see cref="KeyEnv"/>.</summary>
    public string? Key { get; private set; }

    /// <summary>The plan of one line, checked.</summary>
    /// <exception cref="PlanException">Not a plan this worker can run.</exception>
    public static Plan Read(string? line)
    {
        Plan? plan;
        try
        {
            plan = JsonSerializer.Deserialize<Plan>(line ?? "", Json);
        }
        catch (JsonException e)
        {
            throw new PlanException($"the plan is not one JSON object: {e.Message}");
        }
        if (plan is null) throw new PlanException("the plan is not one JSON object");
        plan.Check();
        return plan;
    }

    private void Check()
    {
        if (Host.Length == 0) throw new PlanException("'host' is missing");
        if (Port is < 1 or > 65535) throw new PlanException($"'port' must be 1-65535, not {Port}");
        if (Payload is not ("jpeg" or "batch8" or "tensor")) throw new PlanException($"'payload' must be jpeg, batch8 or tensor, not '{Payload}'");
        if (Payload != "tensor" && string.IsNullOrEmpty(Image)) throw new PlanException($"'image' is missing for payload {Payload}");
        if (Concurrency < 1) throw new PlanException($"'concurrency' must be at least 1, not {Concurrency}");
        if (Warmup < 0) throw new PlanException($"'warmup' cannot be negative ({Warmup})");
        if (JitSettleMaxS is < 0 or > 600 || double.IsNaN(JitSettleMaxS))
            throw new PlanException($"'jit_settle_max_s' must be 0-600 seconds, not {JitSettleMaxS}");
        if (!Tls && (Ca is not null || KeyEnv is not null)) throw new PlanException("'ca' and 'key_env' need 'tls': true");
        if (Sides.Count == 0 || Phases.Count == 0) throw new PlanException("'sides' and 'phases' must not be empty");
        if (Sides.Any(s => string.IsNullOrEmpty(s.Name) || !Callers.Modes.Contains(s.Mode)) ||
            Sides.Select(s => s.Name).Distinct().Count() != Sides.Count)
            throw new PlanException($"sides must have distinct names and a mode client or stub, not [{string.Join(", ", Sides)}]");
        for (int i = 0; i < Phases.Count; i++)
            if (!Sides.Any(s => s.Name == Phases[i].Side) || Phases[i].CallsPerWorker < 1)
                throw new PlanException($"phase {i} must name a side of the plan and calls_per_worker >= 1, not {Phases[i]}");
        if (KeyEnv is not null)
        {
            Key = Environment.GetEnvironmentVariable(KeyEnv);
            if (string.IsNullOrEmpty(Key)) throw new PlanException($"the variable {KeyEnv} named by 'key_env' is empty");
        }
    }
}
