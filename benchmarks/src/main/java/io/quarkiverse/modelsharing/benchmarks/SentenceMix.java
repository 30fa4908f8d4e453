package io.quarkiverse.modelsharing.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Sentences of the lengths an embedding service sees: 5 to 120 words, most of them short (a query, a title, a line of
 * chat) and a tail of long ones (a paragraph), from a fixed English vocabulary and a seeded {@link Random}, so that
 * every run, and ours and every baseline within a run, embeds the same texts.
 */
final class SentenceMix {

    static final int FEWEST_WORDS = 5;
    static final int MOST_WORDS = 120;
    /**
     * Words per sentence: {@code FEWEST_WORDS + (MOST_WORDS - FEWEST_WORDS) * u^SKEW} for a uniform {@code u}, so the
     * median is about 19 words and one sentence in ten has more than 88.
     */
    static final double SKEW = 3;

    private static final String[] WORDS = ("the of and to in a is that for it as was with be by on not he this are or"
            + " his from at which but have an they you were her she there been one all we their has would when if so no"
            + " will more out up into do any your what only new time some could these two may first then other than"
            + " also its after way many must through back years where much before right too means old same tell boy"
            + " following came want show around form three small set put end does another well large need big high such"
            + " turn here why ask went men read land different home us move try kind hand picture again change off play"
            + " spell air away animal house point page letter mother answer found study still learn should world model"
            + " server request memory process thread queue batch latency token sentence vector search index document"
            + " query answer service cluster network storage file cache worker session runtime library version release"
            + " customer order invoice payment account price product shipping support ticket report weather river"
            + " mountain city garden music story history science water light energy market company people family")
            .split(" ");

    private SentenceMix() {
    }

    /** {@code count} sentences, the same for the same {@code seed}. */
    static List<String> sentences(int count, long seed) {
        Random random = new Random(seed);
        List<String> sentences = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int words = FEWEST_WORDS + (int) Math.round((MOST_WORDS - FEWEST_WORDS) * Math.pow(random.nextDouble(), SKEW));
            StringBuilder sentence = new StringBuilder();
            for (int w = 0; w < words; w++) {
                String word = WORDS[random.nextInt(WORDS.length)];
                sentence.append(w == 0 ? Character.toUpperCase(word.charAt(0)) + word.substring(1) : " " + word);
            }
            sentences.add(sentence.append('.').toString());
        }
        return sentences;
    }

    /** The number of words of {@code sentence}. */
    static int words(String sentence) {
        return sentence.split(" ").length;
    }
}
