package io.quarkiverse.modelsharing.deployment;

import io.quarkiverse.modelsharing.runtime.dev.ModelSharingJsonRPCService;
import io.quarkus.deployment.IsDevelopment;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.devui.spi.JsonRPCProvidersBuildItem;
import io.quarkus.devui.spi.page.CardPageBuildItem;
import io.quarkus.devui.spi.page.Page;

/**
 * The Dev UI card: pages for the models, the shared memory and the workers, web components in
 * {@code src/main/resources/dev-ui/}, and the JSON-RPC service of {@code runtime-dev} that they read and act through.
 */
class DevUIProcessor {

    @BuildStep(onlyIf = IsDevelopment.class)
    CardPageBuildItem card() {
        CardPageBuildItem card = new CardPageBuildItem();
        card.addLibraryVersion("com.microsoft.onnxruntime", "onnxruntime", "ONNX Runtime",
                "https://onnxruntime.ai/docs/get-started/with-java.html");
        card.addPage(Page.webComponentPageBuilder()
                .title("Models")
                .icon("font-awesome-solid:brain")
                .componentLink("qwc-model-sharing-models.js")
                .dynamicLabelJsonRPCMethodName("getModelCount"));
        card.addPage(Page.webComponentPageBuilder()
                .title("Shared memory")
                .icon("font-awesome-solid:memory")
                .componentLink("qwc-model-sharing-memory.js"));
        card.addPage(Page.webComponentPageBuilder()
                .title("Workers")
                .icon("font-awesome-solid:microchip")
                .componentLink("qwc-model-sharing-workers.js")
                .dynamicLabelJsonRPCMethodName("getWorkerCount"));
        return card;
    }

    @BuildStep(onlyIf = IsDevelopment.class)
    JsonRPCProvidersBuildItem jsonRpcService() {
        return new JsonRPCProvidersBuildItem(ModelSharingJsonRPCService.class);
    }
}
