package io.quarkiverse.modelsharing.benchmarks;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import javax.imageio.ImageIO;

import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.XYPlot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run's data survives a round trip through its file, and is drawn as the charts benchmarks.adoc shows. */
class PlotsTest {

    @TempDir
    Path directory;

    @Test
    void dataIsWrittenReadAndDrawnOneChartPerName() throws Exception {
        BenchmarkData data = new BenchmarkData();
        for (String bytes : List.of("1024", "1048576", "67108864")) {
            data.add("handoff", "ours: same process", bytes, 0.15, "us");
            data.add("handoff", "Vert.x Buffer copy", bytes, Long.parseLong(bytes) / 1024.0, "us");
        }
        data.add("worker", "through a worker", "tiny model, p50", 95.2, "us");
        data.add("worker", "in process", "tiny model, p50", 3.5, "us");
        data.add("worker", "through a worker", "64 MiB input, sum", 3420, "us");
        data.add("worker", "in process", "64 MiB input, sum", 2560, "us");
        Path csv = directory.resolve("results.csv");
        data.write(csv);
        BenchmarkData read = BenchmarkData.read(csv);
        assertEquals(data.points(), read.points());

        List<Path> charts = Plots.render(read, directory);
        assertEquals(List.of(directory.resolve("handoff.png"), directory.resolve("worker.png")), charts);
        for (Path chart : charts) {
            BufferedImage image = ImageIO.read(chart.toFile());
            assertArrayEquals(new int[] { Plots.WIDTH, Plots.HEIGHT }, new int[] { image.getWidth(), image.getHeight() });
        }
        JFreeChart handoff = Plots.chart("handoff", read.points().subList(0, 6));
        XYPlot sizes = assertInstanceOf(XYPlot.class, handoff.getPlot(), "sizes in bytes: a line chart");
        assertInstanceOf(LogAxis.class, sizes.getDomainAxis(), "log-log");
        assertInstanceOf(LogAxis.class, sizes.getRangeAxis(), "log-log");
        assertEquals(2, sizes.getDataset().getSeriesCount());
        assertEquals("tensor size, bytes", sizes.getDomainAxis().getLabel());
        JFreeChart worker = Plots.chart("worker", read.points().subList(6, 10));
        CategoryPlot bars = assertInstanceOf(CategoryPlot.class, worker.getPlot(), "categories: a bar chart");
        assertInstanceOf(LogAxis.class, bars.getRangeAxis(), "3.5 us to 3,420 us: a logarithmic value axis");
        assertEquals("A model through a worker process against in process", worker.getTitle().getText());
    }

    @Test
    void aLineChartAgainstCallersNamesItsAxis() {
        BenchmarkData data = new BenchmarkData();
        for (String callers : List.of("1", "8", "64")) {
            data.add("text-throughput", "ours, batched, in process", callers, 40 * Integer.parseInt(callers), "embeddings/s");
            data.add("text-throughput", "langchain4j in process", callers, 40, "embeddings/s");
        }
        XYPlot plot = assertInstanceOf(XYPlot.class, Plots.chart("text-throughput", data.points()).getPlot(),
                "callers are numbers: a line chart");
        assertEquals("concurrent callers", plot.getDomainAxis().getLabel());
        assertEquals("embeddings/s", plot.getRangeAxis().getLabel());
        assertInstanceOf(NumberAxis.class, plot.getRangeAxis(), "40 to 2,560 embeddings/s: a linear value axis");
        assertEquals(2, plot.getDataset().getSeriesCount());
        assertEquals(List.of(new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c)),
                Plots.colours(List.of("ours, batched", "langchain4j", "ours, unbatched")),
                "ours blue and green, theirs orange");
    }

    @Test
    void aFileThatIsNotBenchmarkDataIsRefusedNamingTheLine() throws Exception {
        Path csv = Files.write(directory.resolve("bad.csv"), List.of(BenchmarkData.HEADER, "worker,ours,tiny,fast,us"));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> BenchmarkData.read(csv));
        assertEquals(csv + " line 2 is not a row of " + BenchmarkData.HEADER + ": worker,ours,tiny,fast,us",
                bad.getMessage());
        Path other = Files.write(directory.resolve("other.csv"), List.of("a,b"));
        assertEquals(other + " is not benchmark data: its first line must be " + BenchmarkData.HEADER,
                assertThrows(IllegalArgumentException.class, () -> BenchmarkData.read(other)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> new BenchmarkData().add("worker", "a \"b\"", "x", 1, "us")).getMessage().contains("must have no quote"));
    }
}
