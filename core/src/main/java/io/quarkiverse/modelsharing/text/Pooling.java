package io.quarkiverse.modelsharing.text;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** How a text's token vectors become one embedding. */
public enum Pooling {
    /** The mean of the vectors of the real (unmasked) tokens: all-MiniLM, e5, most sentence-transformers models. */
    MEAN,
    /** The first token's vector ({@code [CLS]}): BGE, many retrieval models. */
    CLS,
    /** The element-wise maximum over the real tokens. */
    MAX;

    private static final Pattern MODE = Pattern.compile("\"pooling_mode_(cls_token|mean_tokens|max_tokens)\"\\s*:\\s*true");

    /**
     * The pooling a sentence-transformers model declares in its {@code 1_Pooling/config.json}, e.g.
     * {@code "pooling_mode_cls_token": true}.
     *
     * @throws IllegalArgumentException if the file declares none of CLS, mean or max, or more than one
     */
    public static Pooling fromSentenceTransformers(String configJson) {
        Matcher matcher = MODE.matcher(configJson);
        Pooling found = null;
        while (matcher.find()) {
            Pooling mode = switch (matcher.group(1)) {
                case "cls_token" -> CLS;
                case "mean_tokens" -> MEAN;
                default -> MAX;
            };
            if (found != null && found != mode) {
                throw new IllegalArgumentException("the pooling configuration declares both " + found + " and " + mode
                        + " pooling; the extension pools one way: set pooling to one of them");
            }
            found = mode;
        }
        if (found == null) {
            throw new IllegalArgumentException("the pooling configuration declares none of pooling_mode_cls_token,"
                    + " pooling_mode_mean_tokens or pooling_mode_max_tokens as true");
        }
        return found;
    }

    /** The configuration value for this pooling. */
    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }
}
