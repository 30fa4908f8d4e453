package io.quarkiverse.modelsharing.docs;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the names a guide page uses that the code does not have: configuration keys, our types and their members,
 * and the worker daemon's command-line options. Each finding names the page and the line.
 */
final class DocReferences {

    static final String PREFIX = "quarkus.model-sharing.";

    /**
     * What exists: the configuration's keys, the class path's types, the options {@code WorkerMain} accepts, and the
     * capitalized names a page may use that are not Java types (ONNX's messages, a C struct).
     */
    record Known(Set<String> configKeys, Types types, Set<String> workerOptions, Set<String> notJava) {
    }

    /** A name on a page that nothing in the code matches. */
    record Dangling(String page, int line, String kind, String name) {
        @Override
        public String toString() {
            return page + ":" + line + ": " + kind + " " + name + " does not exist";
        }
    }

    private static final Pattern KEY = Pattern.compile("quarkus\\.model-sharing(?:\\.(?:\"[^\"]*\"|[A-Za-z0-9*<>_-]+))+");
    private static final Pattern RELATIVE_KEY = Pattern
            .compile(
                    "(?:models|registry|workers|shared-memory|event-bus|devservices|health|metrics)(?:\\.(?:\"[^\"]*\"|[a-z0-9-]+))+");
    private static final Pattern BACKTICKS = Pattern.compile("`([^`]+)`");
    private static final Pattern QUALIFIED = Pattern
            .compile("io\\.quarkiverse\\.modelsharing(?:\\.[a-z][a-z0-9]*)*\\.([A-Z]\\w*)");
    /** A span that is one code reference: a type, maybe generic, maybe followed by members. */
    private static final Pattern CODE_REFERENCE = Pattern
            .compile("@?([A-Z]\\w*)(?:<[^>]*>)?((?:\\.\\w+(?:\\([^)]*\\))?)*)(?:\\[\\])?");
    /** A capitalized word, not a JVM flag's name ({@code -XX:+UseSerialGC}) nor part of a path or a member. */
    private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.$\"'/#+-])([A-Z]\\w*)");
    private static final Pattern OPTION = Pattern.compile("(?<![\\w-])(--[a-z][a-z-]*)");

    private final Known known;

    DocReferences(Known known) {
        this.known = known;
    }

    List<Dangling> check(String page, String text) {
        List<Dangling> found = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        boolean inListing = false;
        boolean workerListing = false;
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            int number = i + 1;
            if (line.equals("----")) {
                inListing = !inListing;
                workerListing = inListing && startsWorker(lines, i + 1);
                continue;
            }
            checkKeys(page, number, line, found);
            if (inListing) {
                if (workerListing) {
                    checkOptions(page, number, line, found);
                }
                continue;
            }
            Matcher spans = BACKTICKS.matcher(line);
            while (spans.find()) {
                String span = spans.group(1);
                if (RELATIVE_KEY.matcher(span).matches()) {
                    checkKey(page, number, PREFIX + span, found);
                }
                if (span.startsWith("--") && !span.contains("=") || span.contains("WorkerMain")) {
                    checkOptions(page, number, span, found);
                }
                checkTypes(page, number, span, found);
            }
        }
        return found;
    }

    /** Whether the listing that starts at {@code from} runs the worker daemon. */
    private static boolean startsWorker(String[] lines, int from) {
        for (int i = from; i < lines.length && !lines[i].equals("----"); i++) {
            if (lines[i].contains("quarkus-model-sharing-worker.jar") || lines[i].contains("WorkerMain")
                    || lines[i].contains("\"--socket\"")) {
                return true;
            }
        }
        return false;
    }

    private void checkKeys(String page, int number, String line, List<Dangling> found) {
        Matcher keys = KEY.matcher(line);
        while (keys.find()) {
            checkKey(page, number, keys.group(), found);
        }
    }

    private void checkKey(String page, int number, String key, List<Dangling> found) {
        String normalized = normalize(key);
        boolean exists = known.configKeys().stream()
                .anyMatch(k -> k.equals(normalized) || k.startsWith(normalized + "."));
        if (!exists) {
            found.add(new Dangling(page, number, "configuration key", key));
        }
    }

    /** The key as the configuration reference spells it: a model's name becomes {@code "model-name"}. */
    static String normalize(String key) {
        String models = PREFIX + "models.";
        if (!key.startsWith(models) || key.length() == models.length()) {
            return key;
        }
        String rest = key.substring(models.length());
        int end = rest.startsWith("\"") ? rest.indexOf('"', 1) + 1 : rest.indexOf('.');
        return models + "\"model-name\"" + (end <= 0 || end >= rest.length() ? "" : rest.substring(end));
    }

    private void checkOptions(String page, int number, String text, List<Dangling> found) {
        Matcher options = OPTION.matcher(text);
        while (options.find()) {
            if (!known.workerOptions().contains(options.group(1))) {
                found.add(new Dangling(page, number, "worker option", options.group(1)));
            }
        }
    }

    private void checkTypes(String page, int number, String span, List<Dangling> found) {
        Matcher qualified = QUALIFIED.matcher(span);
        while (qualified.find()) {
            if (!known.types().existsQualified(qualified.group())) {
                found.add(new Dangling(page, number, "class", qualified.group()));
            }
        }
        String unqualified = QUALIFIED.matcher(span).replaceAll("");
        Matcher reference = CODE_REFERENCE.matcher(unqualified);
        if (reference.matches() && hasLowerCase(reference.group(1))) {
            String type = reference.group(1);
            if (!known.types().exists(type) && !known.notJava().contains(type)) {
                found.add(new Dangling(page, number, "class", type));
            } else if (!reference.group(2).isEmpty()) {
                String member = reference.group(2).substring(1).split("[.(]")[0];
                if (!known.types().hasMember(type, member)) {
                    found.add(new Dangling(page, number, "member", type + "." + member));
                }
            }
        }
        Matcher identifiers = IDENTIFIER.matcher(unqualified.replaceAll("\"[^\"]*\"|'[^']*'", ""));
        while (identifiers.find()) {
            String name = identifiers.group(1);
            if (looksLikeAType(name) && !known.types().exists(name) && !known.notJava().contains(name)
                    && found.stream().noneMatch(d -> d.line() == number && d.name().equals(name))) {
                found.add(new Dangling(page, number, "class", name));
            }
        }
    }

    /** CamelCase with at least two capitals and a small letter, as type names are; not SIGKILL or F32. */
    static boolean looksLikeAType(String name) {
        long capitals = name.chars().filter(Character::isUpperCase).count();
        return capitals >= 2 && hasLowerCase(name) && name.indexOf('_') < 0;
    }

    private static boolean hasLowerCase(String name) {
        return name.chars().anyMatch(Character::isLowerCase);
    }
}
