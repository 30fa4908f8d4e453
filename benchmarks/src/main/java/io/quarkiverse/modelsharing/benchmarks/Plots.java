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
 * A chart whose x values are all numbers (sizes in bytes) is a log-log line chart; any other is a bar chart of its
 * categories, on a logarithmic axis where its values span more than two orders of magnitude.
 */
final class Plots {

    static final int WIDTH = 900;
    static final int HEIGHT = 520;
    /** Ours first, in blues and greens; baselines in orange, red and grey: readable on white. */
    private static final Color[] COLOURS = { new Color(0x1f77b4), new Color(0x2ca02c), new Color(0x17becf),
            new Color(0xff7f0e), new Color(0xd62728), new Color(0x7f7f7f) };

    /** A chart's title and value axis, by the name the harness gives its points. */
    static final Map<String, String[]> TITLES = Map.of(
            "handoff", new String[] { "Hand-off of a tensor: time against size", "microseconds per tensor" },
            "write", new String[] { "Writing 256 MiB into a shared-memory pool", "GiB/s" },
            "worker", new String[] { "A model through a worker process against in process", "microseconds per call" },
            "memory", new String[] { "Memory of 8 client processes and their model", "MiB (PSS)" },
            "concurrency-throughput", new String[] { "1,000 concurrent requests from 4 processes: throughput",
                    "requests/s" },
            "concurrency-latency", new String[] { "1,000 concurrent requests from 4 processes: latency", "ms" });

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
        JFreeChart chart = numeric ? logLog(titles, points) : bars(titles, points);
        chart.setBackgroundPaint(Color.WHITE);
        return chart;
    }

    private static JFreeChart logLog(String[] titles, List<BenchmarkData.Point> points) {
        Map<String, XYSeries> series = new LinkedHashMap<>();
        points.forEach(point -> series.computeIfAbsent(point.series(), XYSeries::new)
                .add(Double.parseDouble(point.x()), point.value()));
        XYSeriesCollection dataset = new XYSeriesCollection();
        series.values().forEach(dataset::addSeries);
        LogAxis size = new LogAxis("tensor size, bytes");
        size.setBase(2);
        size.setNumberFormatOverride(new java.text.DecimalFormat("0"));
        size.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        LogAxis time = decades(titles[1]);
        time.setSmallestValue(1e-3);
        XYLineAndShapeRenderer renderer = new XYLineAndShapeRenderer(true, true);
        for (int i = 0; i < dataset.getSeriesCount(); i++) {
            renderer.setSeriesStroke(i, new BasicStroke(2f));
            renderer.setSeriesPaint(i, COLOURS[i % COLOURS.length]);
        }
        XYPlot plot = new XYPlot(dataset, size, time, renderer);
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        return new JFreeChart(titles[0], JFreeChart.DEFAULT_TITLE_FONT, plot, true);
    }

    private static JFreeChart bars(String[] titles, List<BenchmarkData.Point> points) {
        DefaultCategoryDataset dataset = new DefaultCategoryDataset();
        points.forEach(point -> dataset.addValue(point.value(), point.series(), point.x()));
        double min = points.stream().mapToDouble(BenchmarkData.Point::value).filter(v -> v > 0).min().orElse(1);
        double max = points.stream().mapToDouble(BenchmarkData.Point::value).max().orElse(1);
        ValueAxis values = new NumberAxis(titles[1]);
        if (max / min > 100) {
            LogAxis log = decades(titles[1]);
            log.setSmallestValue(min / 2);
            values = log;
        }
        CategoryPlot plot = new CategoryPlot(dataset, new CategoryAxis(), values, renderer());
        plot.setBackgroundPaint(Color.WHITE);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        return new JFreeChart(titles[0], JFreeChart.DEFAULT_TITLE_FONT, plot, true);
    }

    /** A base-10 axis with a tick at each power of ten, labelled with its value (0.1, 1, 10, 1,000). */
    private static LogAxis decades(String label) {
        LogAxis axis = new LogAxis(label);
        axis.setStandardTickUnits(NumberAxis.createIntegerTickUnits());
        axis.setNumberFormatOverride(new java.text.DecimalFormat("#,##0.###"));
        return axis;
    }

    private static BarRenderer renderer() {
        BarRenderer renderer = new BarRenderer();
        for (int i = 0; i < COLOURS.length; i++) {
            renderer.setSeriesPaint(i, COLOURS[i]);
        }
        renderer.setBarPainter(new StandardBarPainter());
        renderer.setShadowVisible(false);
        renderer.setDefaultItemLabelGenerator(new StandardCategoryItemLabelGenerator("{2}",
                new java.text.DecimalFormat("0.##")));
        renderer.setDefaultItemLabelsVisible(true);
        return renderer;
    }

}
