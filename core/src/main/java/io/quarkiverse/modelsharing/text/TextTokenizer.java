package io.quarkiverse.modelsharing.text;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;

/**
 * A Hugging Face {@code tokenizer.json}, read by DJL's Rust tokenizers: text to token ids, attention mask and token
 * types, truncated at {@code maxTokens} (the caller decides whether a truncated text is an error).
 */
public final class TextTokenizer implements AutoCloseable {

    /** {@code pad_id} appears in a tokenizer.json's padding settings only, whatever their strategy's shape. */
    private static final Pattern PAD_ID = Pattern.compile("\"pad_id\"\\s*:\\s*(\\d+)");

    private final HuggingFaceTokenizer tokenizer;
    private final long padId;
    private final int maxTokens;

    private TextTokenizer(HuggingFaceTokenizer tokenizer, long padId, int maxTokens) {
        this.tokenizer = tokenizer;
        this.padId = padId;
        this.maxTokens = maxTokens;
    }

    /** One text, or a pair, as the model reads it. */
    public record Tokens(long[] ids, long[] attentionMask, long[] typeIds, boolean truncated) {
        public int length() {
            return ids.length;
        }
    }

    /**
     * Reads a {@code tokenizer.json}.
     *
     * @param where what to name the file in errors
     * @throws IllegalArgumentException if the file is not a tokenizer DJL can read
     */
    public static TextTokenizer read(InputStream json, String where, int maxTokens) {
        try {
            byte[] bytes = json.readAllBytes();
            HuggingFaceTokenizer tokenizer;
            try (InputStream again = new java.io.ByteArrayInputStream(bytes)) {
                tokenizer = HuggingFaceTokenizer.newInstance(again, Map.of("padding", "false", "truncation", "true",
                        "maxLength", Integer.toString(maxTokens)));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("Tokenizer " + where + " is not a Hugging Face tokenizer.json: "
                        + e.getMessage(), e);
            }
            return new TextTokenizer(tokenizer, padId(new String(bytes, StandardCharsets.UTF_8), tokenizer), maxTokens);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read tokenizer " + where + ": " + e.getMessage(), e);
        }
    }

    /** The id inputs are padded with: the file's {@code padding.pad_id}, else the id of [PAD] or &lt;pad&gt;, else 0. */
    private static long padId(String json, HuggingFaceTokenizer tokenizer) {
        Matcher declared = PAD_ID.matcher(json);
        if (declared.find()) {
            return Long.parseLong(declared.group(1));
        }
        for (String token : new String[] { "[PAD]", "<pad>" }) {
            if (json.contains("\"" + token + "\"")) {
                Encoding encoding = tokenizer.encode(token, false, false);
                if (encoding.getIds().length == 1) {
                    return encoding.getIds()[0];
                }
            }
        }
        return 0;
    }

    /** {@code text}'s tokens, the special ones included. */
    public Tokens encode(String text) {
        return tokens(tokenizer.encode(text, true, false));
    }

    /** The tokens of {@code first} and {@code second} read together, as a cross-encoder reads a query and a passage. */
    public Tokens encode(String first, String second) {
        return tokens(tokenizer.encode(first, second, true, false));
    }

    private Tokens tokens(Encoding encoding) {
        return new Tokens(encoding.getIds(), encoding.getAttentionMask(), encoding.getTypeIds(), encoding.exceedMaxLength());
    }

    /** The id padded positions hold. */
    public long padId() {
        return padId;
    }

    /** The most tokens an encoding holds. */
    public int maxTokens() {
        return maxTokens;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
