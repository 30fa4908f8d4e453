package io.quarkiverse.modelsharing.grpc;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import jakarta.inject.Inject;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.grpc.v2.GRPCInferenceServiceGrpc;
import io.quarkiverse.modelsharing.grpc.v2.ModelInferRequest;
import io.quarkiverse.modelsharing.grpc.v2.ModelInferResponse;
import io.quarkiverse.modelsharing.grpc.v2.ModelMetadataRequest;
import io.quarkiverse.modelsharing.grpc.v2.ModelMetadataResponse;
import io.quarkiverse.modelsharing.grpc.v2.ModelReadyRequest;
import io.quarkiverse.modelsharing.grpc.v2.ModelReadyResponse;
import io.quarkiverse.modelsharing.grpc.v2.ServerLiveRequest;
import io.quarkiverse.modelsharing.grpc.v2.ServerLiveResponse;
import io.quarkiverse.modelsharing.grpc.v2.ServerMetadataRequest;
import io.quarkiverse.modelsharing.grpc.v2.ServerMetadataResponse;
import io.quarkiverse.modelsharing.grpc.v2.ServerReadyRequest;
import io.quarkiverse.modelsharing.grpc.v2.ServerReadyResponse;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig;
import io.quarkiverse.modelsharing.runtime.oip.Datatypes;
import io.quarkiverse.modelsharing.runtime.oip.InferenceProtocolException;
import io.quarkiverse.modelsharing.runtime.oip.ServedModels;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkiverse.modelsharing.tensor.TensorSpec;
import io.quarkus.grpc.GrpcService;
import io.smallrye.common.annotation.Blocking;

/**
 * The Open Inference Protocol's {@code GRPCInferenceService} for every model of the application, beside its REST
 * endpoints and under the same switch, {@code quarkus.model-sharing.inference-protocol.enabled}. Outputs come back as
 * {@code raw_output_contents}, as Triton gives them.
 */
@GrpcService
@Blocking
public class InferenceGrpcService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {

    @Inject
    ServedModels served;

    @Inject
    TensorAllocator allocator;

    @Inject
    ModelSharingConfig config;

    @Override
    public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> answer) {
        reply(answer, () -> ServerLiveResponse.newBuilder().setLive(true).build());
    }

    @Override
    public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> answer) {
        reply(answer, () -> ServerReadyResponse.newBuilder().setReady(served.problems().isEmpty()).build());
    }

    @Override
    public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> answer) {
        reply(answer, () -> {
            InferenceModel model = served.get(request.getName(), request.getVersion());
            return ModelReadyResponse.newBuilder().setReady(served.problem(model.name()).isEmpty()).build();
        });
    }

    @Override
    public void serverMetadata(ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> answer) {
        reply(answer, () -> ServerMetadataResponse.newBuilder().setName(ServedModels.SERVER)
                .setVersion(served.serverVersion()).build());
    }

    @Override
    public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> answer) {
        reply(answer, () -> {
            InferenceModel model = served.get(request.getName(), request.getVersion());
            ModelMetadataResponse.Builder metadata = ModelMetadataResponse.newBuilder().setName(model.name())
                    .addVersions(ServedModels.VERSION).setPlatform("onnxruntime_onnx");
            model.inputs().forEach(spec -> metadata.addInputs(metadata(spec)));
            model.outputs().forEach(spec -> metadata.addOutputs(metadata(spec)));
            return metadata.build();
        });
    }

    private static ModelMetadataResponse.TensorMetadata metadata(TensorSpec spec) {
        ModelMetadataResponse.TensorMetadata.Builder tensor = ModelMetadataResponse.TensorMetadata.newBuilder()
                .setName(spec.name()).setDatatype(Datatypes.name(spec.dtype()));
        for (long dim : spec.shape()) {
            tensor.addShape(dim < 0 ? -1 : dim);
        }
        return tensor.build();
    }

    @Override
    public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> answer) {
        reply(answer, () -> {
            InferenceModel model = served.get(request.getModelName(), request.getModelVersion());
            if (request.getRawInputContentsCount() > 0 && request.getRawInputContentsCount() != request.getInputsCount()) {
                throw GrpcTensors.badRequest("The request has " + request.getInputsCount() + " inputs but "
                        + request.getRawInputContentsCount() + " raw_input_contents: give one per input, or none");
            }
            Map<String, Tensor> inputs = new LinkedHashMap<>();
            try {
                for (int i = 0; i < request.getInputsCount(); i++) {
                    ModelInferRequest.InferInputTensor input = request.getInputs(i);
                    if (inputs.containsKey(input.getName())) {
                        throw GrpcTensors.badRequest("The input '" + input.getName() + "' is given twice");
                    }
                    inputs.put(input.getName(), GrpcTensors.input(input,
                            request.getRawInputContentsCount() > 0 ? request.getRawInputContents(i) : null, allocator));
                }
                if (inputs.isEmpty()) {
                    throw GrpcTensors.badRequest("The request has no inputs");
                }
                try (InferenceResult result = model.run(inputs)) {
                    return response(model, request, result);
                }
            } finally {
                inputs.values().forEach(Tensor::close);
            }
        });
    }

    private static ModelInferResponse response(InferenceModel model, ModelInferRequest request, InferenceResult result) {
        List<String> names = new ArrayList<>();
        if (request.getOutputsCount() == 0) {
            names.addAll(result.names());
        }
        for (ModelInferRequest.InferRequestedOutputTensor wanted : request.getOutputsList()) {
            if (!result.names().contains(wanted.getName())) {
                throw GrpcTensors.badRequest("Model '" + model.name() + "' has no output '" + wanted.getName()
                        + "'; its outputs are " + result.names());
            }
            names.add(wanted.getName());
        }
        ModelInferResponse.Builder response = ModelInferResponse.newBuilder().setModelName(model.name())
                .setModelVersion(ServedModels.VERSION).setId(request.getId());
        for (String name : names) {
            Tensor tensor = result.get(name);
            ModelInferResponse.InferOutputTensor.Builder output = ModelInferResponse.InferOutputTensor.newBuilder()
                    .setName(name).setDatatype(Datatypes.name(tensor.dtype()));
            for (long dim : tensor.shape()) {
                output.addShape(dim);
            }
            response.addOutputs(output);
            response.addRawOutputContents(GrpcTensors.raw(tensor));
        }
        return response.build();
    }

    private interface Call<T> {
        T get();
    }

    private <T> void reply(StreamObserver<T> answer, Call<T> call) {
        if (!config.inferenceProtocol().enabled()) {
            answer.onError(Status.UNIMPLEMENTED.withDescription("The Open Inference Protocol is off: set"
                    + " quarkus.model-sharing.inference-protocol.enabled=true").asRuntimeException());
            return;
        }
        T value;
        try {
            value = call.get();
        } catch (InferenceProtocolException e) {
            answer.onError(status(e.status()).withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (TensorException e) {
            answer.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (io.quarkiverse.modelsharing.shm.QuotaExceededException e) {
            answer.onError(Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (io.quarkiverse.modelsharing.worker.WorkerUnavailableException
                | io.quarkiverse.modelsharing.registry.ModelUnavailableException e) {
            answer.onError(Status.UNAVAILABLE.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (ModelSharingException e) {
            answer.onError(Status.INTERNAL.withDescription(e.getMessage()).asRuntimeException());
            return;
        } catch (StatusRuntimeException e) {
            answer.onError(e);
            return;
        } catch (RuntimeException e) {
            answer.onError(Status.INTERNAL.withDescription(String.valueOf(e.getMessage())).asRuntimeException());
            return;
        }
        answer.onNext(value);
        answer.onCompleted();
    }

    private static Status status(int http) {
        return switch (http) {
            case 400 -> Status.INVALID_ARGUMENT;
            case 413 -> Status.RESOURCE_EXHAUSTED;
            case 403 -> Status.PERMISSION_DENIED;
            case 404 -> Status.NOT_FOUND;
            case 503, 502 -> Status.UNAVAILABLE;
            case 504 -> Status.DEADLINE_EXCEEDED;
            default -> Status.INTERNAL;
        };
    }
}
