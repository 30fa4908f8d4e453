package io.quarkiverse.modelsharing.benchmarks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The text suite's sentences are the same in every run, of the lengths it says, most of them short. */
class SentenceMixTest {

    @Test
    void theSameSeedGivesTheSameSentencesOfFiveToOneHundredAndTwentyWordsSkewedShort() {
        List<String> sentences = SentenceMix.sentences(2_000, 12);
        assertEquals(sentences, SentenceMix.sentences(2_000, 12));
        assertNotEquals(sentences, SentenceMix.sentences(2_000, 13));
        int[] words = sentences.stream().mapToInt(SentenceMix::words).sorted().toArray();
        assertEquals(SentenceMix.FEWEST_WORDS, words[0]);
        assertEquals(SentenceMix.MOST_WORDS, words[words.length - 1]);
        int median = words[words.length / 2];
        assertTrue(median >= 15 && median <= 25, "most are short: the median is " + median + " words");
        assertTrue(words[words.length * 9 / 10] > 80, "a tail of long ones: " + Arrays.toString(words));
        assertTrue(sentences.stream().allMatch(s -> Character.isUpperCase(s.charAt(0)) && s.endsWith(".")));
    }
}
