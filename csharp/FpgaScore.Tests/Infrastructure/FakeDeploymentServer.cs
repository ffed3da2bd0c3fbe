using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FpgaScore.Tests.Infrastructure;

/// <summary>One call the fake received: the method, the request, and the <c>authorization</c> it carried.</summary>
public sealed record ReceivedCall(string Method, IMessage Request, string? Authorization);

/// <summary>
/// A <c>fpgascore.v1.DeploymentService</c> written in the test (ASP.NET Core gRPC on Kestrel, plaintext HTTP/2 on
/// 127.0.0.1, any port): a peer that is not the manager, answering what the test sets per method and recording what the
/// client sent. The methods are bound from their names and the library's message types (no server stubs generated).
/// </summary>
public sealed class FakeDeploymentServer : IAsyncDisposable
{
    public const string ServiceName = "fpgascore.v1.DeploymentService";

    private readonly WebApplication _app;

    private FakeDeploymentServer(WebApplication app, FakeDeployment fake, int port)
    {
        _app = app;
        Fake = fake;
        Port = port;
    }

    public FakeDeployment Fake { get; }
    public int Port { get; }
    public string Address => $"127.0.0.1:{Port}";

    public static async Task<FakeDeploymentServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        var fake = new FakeDeployment();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(fake);
        builder.Services.AddSingleton<IServiceMethodProvider<FakeDeployment>, Methods>();
        var app = builder.Build();
        app.MapGrpcService<FakeDeployment>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new FakeDeploymentServer(app, fake, new Uri(address).Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Binds every method of the service to <see cref="FakeDeployment.HandleAsync{TRequest, TResponse}"/>.</summary>
    private sealed class Methods : IServiceMethodProvider<FakeDeployment>
    {
        public void OnServiceMethodDiscovery(ServiceMethodProviderContext<FakeDeployment> context)
        {
            Add<V1.RegisterModelRequest, V1.RegisterModelResponse>(context, "RegisterModel");
            Add<V1.GetModelRequest, V1.GetModelResponse>(context, "GetModel");
            Add<V1.ListModelsRequest, V1.ListModelsResponse>(context, "ListModels");
            Add<V1.CreateServiceRequest, V1.CreateServiceResponse>(context, "CreateService");
            Add<V1.UpdateServiceRequest, V1.UpdateServiceResponse>(context, "UpdateService");
            Add<V1.GetServiceRequest, V1.GetServiceResponse>(context, "GetService");
            Add<V1.ListServicesRequest, V1.ListServicesResponse>(context, "ListServices");
            Add<V1.DeleteServiceRequest, V1.DeleteServiceResponse>(context, "DeleteService");
            Add<V1.GetAuthKeysRequest, V1.GetAuthKeysResponse>(context, "GetAuthKeys");
            Add<V1.RegenerateAuthKeysRequest, V1.RegenerateAuthKeysResponse>(context, "RegenerateAuthKeys");
            Add<V1.ExportServiceRequest, V1.ExportServiceResponse>(context, "ExportService");
        }

        private static void Add<TRequest, TResponse>(ServiceMethodProviderContext<FakeDeployment> context, string name)
            where TRequest : class, IMessage<TRequest>, new()
            where TResponse : class, IMessage<TResponse>, new()
        {
            var requestParser = new MessageParser<TRequest>(() => new TRequest());
            var responseParser = new MessageParser<TResponse>(() => new TResponse());
            var method = new Method<TRequest, TResponse>(MethodType.Unary, ServiceName, name,
                Marshallers.Create(m => m.ToByteArray(), requestParser.ParseFrom),
                Marshallers.Create(m => m.ToByteArray(), responseParser.ParseFrom));
            context.AddUnaryMethod(method, [], (fake, request, call) => fake.HandleAsync<TRequest, TResponse>(name, request, call));
        }
    }
}

/// <summary>The fake's behaviour: per method, a function from the request to the answer (or an
/// <see cref="RpcException"/> it throws); a method without one answers an empty message.</summary>
public sealed class FakeDeployment
{
    private readonly ConcurrentDictionary<string, Func<IMessage, IMessage>> _answers = new();
    private readonly ConcurrentQueue<ReceivedCall> _calls = new();

    public IReadOnlyList<ReceivedCall> Calls => _calls.ToList();

    /// <summary>What <paramref name="method"/> answers (or throws).</summary>
    public void Answer<TRequest>(string method, Func<TRequest, IMessage> answer) where TRequest : IMessage =>
        _answers[method] = request => answer((TRequest)request);

    /// <summary>The last request of <paramref name="method"/>.</summary>
    public TRequest Last<TRequest>(string method) where TRequest : IMessage =>
        (TRequest)_calls.Last(c => c.Method == method).Request;

    public Task<TResponse> HandleAsync<TRequest, TResponse>(string method, TRequest request, ServerCallContext context)
        where TRequest : IMessage where TResponse : IMessage, new()
    {
        _calls.Enqueue(new ReceivedCall(method, request, context.RequestHeaders.GetValue("authorization")));
        return Task.FromResult(_answers.TryGetValue(method, out var answer) ? (TResponse)answer(request) : new TResponse());
    }
}
