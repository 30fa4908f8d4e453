package io.quarkiverse.modelsharing.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The figures of one run as data: one row per measured point, so that charts are drawn from what was measured, and
 * can be drawn again from a saved run ({@code java -jar benchmarks.jar plot <csv> <directory>}).
 * <p>
 * A row is {@code chart,series,x,value,unit}: the chart it belongs to, the series (ours, or a baseline), the point on
 * the x axis (a size in bytes, or a category), the value and its unit.
 */
final class BenchmarkData {

    static final String HEADER = "chart,series,x,value,unit";

    record Point(String chart, String series, String x, double value, String unit) {
        Point {
            for (String field : List.of(chart, series, x, unit)) {
                if (field.contains("\"") || field.contains("\n")) {
                    throw new IllegalArgumentException("a benchmark data field must have no quote or line break: " + field);
                }
            }
        }

        /** The CSV row; a field with a comma is quoted. */
        String row() {
            return String.join(",", quoted(chart), quoted(series), quoted(x), String.format(Locale.ROOT, "%.6g", value),
                    quoted(unit));
        }

        private static String quoted(String field) {
            return field.contains(",") ? '"' + field + '"' : field;
        }
    }

    /** The fields of a row as {@link Point#row()} writes them. */
    static List<String> fields(String row) {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (char c : row.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
            } else if (c == ',' && !quoted) {
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(c);
            }
        }
        fields.add(field.toString());
        return fields;
    }

    private final List<Point> points = new ArrayList<>();

    void add(String chart, String series, String x, double value, String unit) {
        points.add(new Point(chart, series, x, value, unit));
    }

    List<Point> points() {
        return List.copyOf(points);
    }

    boolean isEmpty() {
        return points.isEmpty();
    }

    void write(Path csv) throws IOException {
        List<String> lines = new ArrayList<>(List.of(HEADER));
        points.forEach(point -> lines.add(point.row()));
        Files.createDirectories(csv.toAbsolutePath().getParent());
        Files.write(csv, lines);
    }

    /**
     * The points of a saved run.
     *
     * @throws IllegalArgumentException naming the line that is not a row of five fields with a number as value
     */
    static BenchmarkData read(Path csv) throws IOException {
        BenchmarkData data = new BenchmarkData();
        List<String> lines = Files.readAllLines(csv);
        if (lines.isEmpty() || !lines.get(0).equals(HEADER)) {
            throw new IllegalArgumentException(csv + " is not benchmark data: its first line must be " + HEADER);
        }
        for (int i = 1; i < lines.size(); i++) {
            List<String> fields = fields(lines.get(i));
            try {
                if (fields.size() != 5) {
                    throw new IllegalArgumentException(fields.size() + " fields");
                }
                data.add(fields.get(0), fields.get(1), fields.get(2), Double.parseDouble(fields.get(3)), fields.get(4));
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(csv + " line " + (i + 1) + " is not a row of " + HEADER + ": "
                        + lines.get(i), e);
            }
        }
        return data;
    }
}
