package io.quarkiverse.modelsharing.it;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.startsWith;

import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;

@QuarkusTest
class EmbeddingResourceTest {

    @Test
    void embedsText() {
        given().contentType(ContentType.JSON).body("{\"text\": \"The quick brown fox jumps over the lazy dog\"}")
                .post("/embeddings")
                .then().statusCode(200)
                .body("model", equalTo("minilm"))
                .body("dimensions", equalTo(384))
                .body("tokens", equalTo(11))
                .body("embedding", hasSize(384));
    }

    @Test
    void emptyTextIsABadRequest() {
        given().contentType(ContentType.JSON).body("{\"text\": \"   \"}").post("/embeddings")
                .then().statusCode(400).body("error", equalTo("text must not be empty"));
        given().contentType(ContentType.JSON).body("{}").post("/embeddings")
                .then().statusCode(400).body("error", equalTo("text must not be empty"));
    }

    @Test
    void tooLongTextIsABadRequest() {
        String text = "word ".repeat(600);
        given().contentType(ContentType.JSON).body("{\"text\": \"" + text + "\"}").post("/embeddings")
                .then().statusCode(400)
                .body("error",
                        equalTo("The text is longer than the 512 tokens model 'minilm' reads: split it into shorter passages,"
                                + " or set truncate=true to cut it"));
    }

    @Test
    void malformedJsonIsABadRequest() {
        given().contentType(ContentType.JSON).body("{\"text\": ").post("/embeddings")
                .then().statusCode(400).body("error", startsWith("the body is not valid JSON for {\"text\": \"...\"}: "));
        given().contentType(ContentType.JSON).body("[1, 2]").post("/embeddings")
                .then().statusCode(400).body("error", startsWith("the body is not valid JSON for {\"text\": \"...\"}: "));
    }

    @Test
    void modelsShowTheRegistry() {
        given().get("/models").then().statusCode(200)
                .body("minilm.state", equalTo("LOADED"))
                .body("minilm.loads", equalTo(1));
    }

    @Test
    void readinessReportsTheModel() {
        given().get("/q/health/ready").then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.find { it.name == 'Model sharing' }.data.minilm", equalTo("loaded"));
    }
}
