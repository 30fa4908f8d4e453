package io.quarkiverse.modelsharing.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** The tokenizer's window and its pad id. */
class TextTokenizerTest {

    static String json() throws Exception {
        try (InputStream in = TextTokenizerTest.class.getClassLoader()
                .getResourceAsStream("all-minilm-l6-v2-tokenizer.json")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void exactlyMaxTokensIsNotTruncatedAndPairsOverflow() throws Exception {
        try (TextTokenizer tokenizer = TextTokenizer.read(new ByteArrayInputStream(json().getBytes(StandardCharsets.UTF_8)),
                "minilm", 8)) {
            TextTokenizer.Tokens exact = tokenizer.encode("a b c d e f");
            assertEquals(8, exact.length());
            assertFalse(exact.truncated(), "8 tokens at max-tokens 8");
            TextTokenizer.Tokens over = tokenizer.encode("a b c d e f g");
            assertEquals(8, over.length());
            assertTrue(over.truncated());
            TextTokenizer.Tokens pair = tokenizer.encode("a b c d", "e f g h");
            assertEquals(8, pair.length());
            assertTrue(pair.truncated(), "a pair cut to fit");
        }
    }

    @Test
    void aDeclaredPadIdIsFoundWhateverThePaddingStrategysShape() throws Exception {
        String original = json();
        // the file's own padding section: {"strategy": {"Fixed": 128}, ..., "pad_id": 0, ..., "pad_token": "[PAD]"}
        String declared = original.replace("\"pad_id\":0", "\"pad_id\":7").replace("\"pad_id\": 0", "\"pad_id\": 7");
        assertTrue(!declared.equals(original), "the fixture changed");
        try (TextTokenizer tokenizer = TextTokenizer.read(new ByteArrayInputStream(declared.getBytes(StandardCharsets.UTF_8)),
                "minilm", 512)) {
            assertEquals(7, tokenizer.padId(), "the file declares padding.pad_id 7");
        }
    }
}
