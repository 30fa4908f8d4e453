package io.quarkiverse.modelsharing.benchmarks;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.CategoryAxis;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.axis.ValueAxis;
import org.jfree.chart.labels.StandardCategoryItemLabelGenerator;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.category.BarRenderer;
import org.jfree.chart.renderer.category.StandardBarPainter;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Draws a run's {@link BenchmarkData} as PNG charts with JFreeChart: one file per chart of the data, named after it.
 * A chart whose x values are all numbers (sizes in bytes, or callers) is a line chart on a base-2 x axis; any other
 * is a bar chart of its categories. Either's value axis is logarithmic where its values span more than two orders of
 * magnitude. Where some series are ours (named "ours..."), they are drawn in blues and greens and the others, the
 * baselines, in orange, red and grey; otherwise the series take those colours in order.
 */
final class Plots {

    static final int WIDTH = 900;
    static final int HEIGHT = 520;
    /** Ours in blues, greens and purple; baselines in orange, red and grey: readable on white. */
    private static final Color[] OURS = { new Color(0x1f77b4), new Color(0x2ca02c), new Color(0x17becf),
            new Color(0x9467bd) };
    private static final Color[] BASELINES = { new Color(0xff7f0e), new Color(0xd62728), new Color(0x7f7f7f) };
    /** Series in order where none is named ours: three of ours first, then the baselines. */
    private static final Color[] COLOURS = { OURS[0], OURS[1], OURS[2], BASELINES[0], BASELINES[1], BASELINES[2] };

    /**
     * A chart's title, value axis and, for a line chart, its x axis (a size in bytes unless given), by the name the
     * harness gives its points.
     */
    static final Map<String, String[]> TITLES = Map.ofEntries(
            Map.entry("handoff", new String[] { "Hand-off of a tensor: time against size", "microseconds per tensor" }),
            Map.entry("write", new String[] { "Writing 256 MiB into a shared-memory pool", "GiB/s" }),
            Map.entry("worker", new String[] { "A model through a worker process against in process",
                    "microseconds per call" }),
            Map.entry("memory", new String[] { "Memory of 8 client processes and their model", "MiB (PSS)" }),
            Map.entry("concurrency-throughput", new String[] { "1,000 concurrent requests from 4 processes: throughput",
                    "requests/s" }),
            Map.entry("concurrency-latency", new String[] { "1,000 concurrent requests from 4 processes: latency", "ms" }),
            Map.entry("text-throughput", new String[] { "all-MiniLM-L6-v2, embed(sentence): throughput",
                    "embeddings/s", "concurrent callers" }),
            Map.entry("text-latency", new String[] { "all-MiniLM-L6-v2, embed(sentence): p99 latency", "ms (p99)",
                    "concurrent callers" }),
            Map.entry("text-embedall", new String[] { "all-MiniLM-L6-v2: embedAll of 1,000 sentences",
                    "ms per call (median)" }),
            Map.entry("text-padding", new String[] { "Padding to a batch's longest sentence, 64 callers",
                    "% of padded positions that are padding" }),
            Map.entry("text-padding-throughput", new String[] { "Length buckets and throughput, 64 callers",
                    "embeddings/s" }),
            Map.entry("protocol", new String[] { "One inference over the Open Inference Protocol against in process",
                    "ms per call (median)" }),
            Map.entry("protocol-p90", new String[] { "One inference over the Open Inference Protocol: p90",
                    "ms per call (p90)" }),
            Map.entry("protocol-client", new String[] { "The client's part of a call: encoding, copies, region writes"
                    + " and reads", "ms per call (median)" }));

    private Plots() {
    }

    /** Writes one PNG per chart of {@code data} into {@code directory}; returns the files written. */
    static List<Path> render(BenchmarkData data, Path directory) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Files.createDirectories(directory);
        Map<String, List<BenchmarkData.Point>> charts = new LinkedHashMap<>();
        data.points().forEach(point -> charts.computeIfAbsent(point.chart(), chart -> new ArrayList<>()).add(point));
        List<Path> written = new ArrayList<>();
        for (Map.Entry<String, List<BenchmarkData.Point>> chart : charts.entrySet()) {
            Path file = directory.resolve(chart.getKey() + ".png");
            ChartUtils.saveChartAsPNG(file.toFile(), chart(chart.getKey(), chart.getValue()), WIDTH, HEIGHT);
            written.add(file);
        }
        return written;
    }

    static JFreeChart chart(String name, List<BenchmarkData.Point> points) {
        String[] titles = TITLES.getOrDefault(name, new String[] { name, points.get(0).unit() });
        boolean numeric = points.stream().allMatch(point -> point.x().matches("\\d+"));
        JFreeChart chart = numeric ? lines(titles, points) : bars(titles, points);
        chart.setBackgroundPaint(Color.WHITE);
        return chart;
    }

    private static JFreeChart lines(String[] titles, List<BenchmarkData.Point> points) {
        Map<String, XYSeries> series = new LinkedHashMap<>();
        points.forEach(point -> series.computeIfAbsent(point.series(), XYSeries::new)
                .add(Double.parseDouble(point.x()), point.value()));
        XYSeriesCollection dataset = new XYSeriesCollection();
        series.values().forEach(dataset::addSeries);
        LogAxis size = new LogAxis(titles.length > 2 ? titles[2] : "tensor size, bytes");
        size.setBase(2);
        size.setNumberFormatOverride(new java.text.DecimalFormat("0"));
        size.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        ValueAxis values = new NumberAxis(titles[1]);
        if (span(points) > 100) {
            LogAxis log = decades(titles[1]);
            log.setSmallestValue(1e-3);
            values = log;
        }
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        List<Color> colours = colours(List.copyOf(series.keySet()));
        for (int i = 0; i < dataset.getSeriesCount(); i++) {
            renderer.setSeriesStroke(i, new BasicStroke(2f));
            renderer.setSeriesPaint(i, colours.get(i));
        }
        XYPlot plot = new XYPlot(dataset, size, values, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        return new JFreeChart(titles[0], JFreeChart.DEFAULT_TITLE_FONT, plot, true);
    }

    private static JFreeChart bars(String[] titles, List<BenchmarkData.Point> points) {
        DefaultCategoryDataset dataset = new DefaultCategoryDataset();
        points.forEach(point -> dataset.addValue(point.value(), point.series(), point.x()));
        ValueAxis values = new NumberAxis(titles[1]);
        if (span(points) > 100) {
            LogAxis log = decades(titles[1]);
            log.setSmallestValue(points.stream().mapToDouble(BenchmarkData.Point::value).filter(v -> v > 0).min()
                    .orElse(1) / 2);
            values = log;
        }
        List<String> series = points.stream().map(BenchmarkData.Point::series).distinct().toList();
        CategoryPlot plot = new CategoryPlot(dataset, new CategoryAxis(), values, renderer(colours(series)));
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        return new JFreeChart(titles[0], JFreeChart.DEFAULT_TITLE_FONT, plot, true);
    }

    /** The largest value over the smallest positive one. */
    private static double span(List<BenchmarkData.Point> points) {
        double min = points.stream().mapToDouble(BenchmarkData.Point::value).filter(v -> v > 0).min().orElse(1);
        double max = points.stream().mapToDouble(BenchmarkData.Point::value).max().orElse(1);
        return max / min;
    }

    /** Each series' colour, in the order given (see the class comment). */
    static List<Color> colours(List<String> series) {
        boolean oursNamed = series.stream().anyMatch(name -> name.startsWith("ours"));
        List<Color> colours = new ArrayList<>();
        int ours = 0;
        int baselines = 0;
        for (int i = 0; i < series.size(); i++) {
            if (!oursNamed) {
                colours.add(COLOURS[i % COLOURS.length]);
            } else if (series.get(i).startsWith("ours")) {
                colours.add(OURS[ours++ % OURS.length]);
            } else {
                colours.add(BASELINES[baselines++ % BASELINES.length]);
            }
        }
        return colours;
    }

    /** A base-10 axis with a tick at each power of ten, labelled with its value (0.1, 1, 10, 1,000). */
    private static LogAxis decades(String label) {
        LogAxis axis = new LogAxis(label);
        axis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        axis.setNumberFormatOverride(new java.text.DecimalFormat("#,##0.###"));
        return axis;
    }

    private static BarRenderer renderer(List<Color> colours) {
        BarRenderer renderer = new BarRenderer();
        for (int i = 0; i < colours.size(); i++) {
            renderer.setSeriesPaint(i, colours.get(i));
        }
        renderer.setBarPainter(new StandardBarPainter());
        renderer.setShadowVisible(false);
        renderer.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator("{2}",
                new java.text.DecimalFormat("0.##")));
        renderer.setDefaultItemLabelsVisible(true);
        return renderer;
    }

}
