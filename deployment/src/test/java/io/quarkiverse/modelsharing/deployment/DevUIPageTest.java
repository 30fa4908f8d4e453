package io.quarkiverse.modelsharing.deployment;

import static io.restassured.RestAssured.get;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.shrinkwrap.api.asset.StringAsset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.test.QuarkusDevModeTest;

/**
 * The Dev UI card's pages in a real browser (Debian's {@code chromium} and {@code chromium-driver}, headless): the
 * models and the workers are shown, and the page's evict and restart buttons act. The models page's screenshot is the
 * docs' {@code images/dev-ui.png}; the test leaves it in {@code target/dev-ui/}.
 */
class DevUIPageTest {

    static final Path AFFINE = TestModelFiles.write("dev-ui-page-affine.onnx", TinyModels.affine());
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final Path SCREENSHOTS = Path.of("target", "dev-ui");

    /**
     * The configuration of both Dev UI tests: one model in process, and one in a managed worker (Dev Services' shared
     * daemon stays out) whose pid, queue and restarts the workers page shows. The heartbeat is frequent so that a restarted
     * worker is "up" again soon.
     */
    static String properties(Path model) {
        return """
                quarkus.model-sharing.workers.mode=managed
                quarkus.model-sharing.workers.heartbeat-interval=300ms
                quarkus.model-sharing.models.affine.path=%1$s
                quarkus.model-sharing.models.remote.path=%1$s
                quarkus.model-sharing.models.remote.placement=worker
                quarkus.model-sharing.models.remote.load=eager
                """.formatted(model);
    }

    @RegisterExtension
    static final QuarkusDevModeTest app = new QuarkusDevModeTest()
            .withApplicationRoot(jar -> jar.addClasses(AffineResource.class, TestModelFiles.class)
                    .addAsResource(new StringAsset(properties(AFFINE)), "application.properties"));

    ChromeDriver browser;
    /**
     * Chromium's profile and temporary files, removed with the browser: in /tmp, not under target/, because Chromium
     * puts a Unix socket in it, whose path must fit 108 bytes wherever the build runs.
     */
    Path scratch;

    @BeforeEach
    void startBrowser() throws IOException {
        assertTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "The Dev UI test drives Debian's chromium: apt-get install -y chromium chromium-driver");
        scratch = Files.createTempDirectory(Path.of("/tmp"), "qms-chromium-");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
                // as root, in a container: no sandbox; and Chromium's shared memory in $TMPDIR, not /dev/shm
                .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                        "--user-data-dir=" + scratch.resolve("profile"));
        Map<String, String> environment = new HashMap<>(System.getenv()); // this JVM's, with Chromium's own TMPDIR
        environment.put("TMPDIR", scratch.toString());
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .withEnvironment(environment).usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().window().setSize(new Dimension(1400, 800));
    }

    @AfterEach
    void stopBrowser() throws IOException {
        if (browser != null) {
            browser.quit();
        }
        try (Stream<Path> files = Files.walk(scratch)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(file);
            }
        }
    }

    @AfterAll
    static void removeModel() throws IOException {
        Files.deleteIfExists(AFFINE);
    }

    @Test
    void modelsPageShowsTheModelsAndEvictsOne() throws Exception {
        get("/affine").then().statusCode(200);
        get("/affine").then().statusCode(200);
        open("models");
        String text = waitForText("qwc-model-sharing-models", "remote");
        assertTrue(text.contains("affine") && text.contains("in-process") && text.contains("loaded"), text);
        assertTrue(text.contains("worker") && text.contains("in workers"), text);
        screenshot("dev-ui.png");

        click("qwc-model-sharing-models", "#evict-affine");
        waitForText("qwc-model-sharing-models", "Model 'affine' was unloaded; the next request loads it again");
    }

    @Test
    void workersPageShowsTheWorkerAndRestartsIt() throws Exception {
        open("workers");
        String text = waitForText("qwc-model-sharing-workers", "up");
        assertTrue(text.contains("cpu#0") && text.contains("remote"), text);
        screenshot("dev-ui-workers.png");

        click("qwc-model-sharing-workers", "[data-worker='cpu#0'] vaadin-button");
        waitForText("qwc-model-sharing-workers", "Worker 'cpu#0' was killed; it is being started again");
    }

    /** Opens one of the card's pages, as its link in the Dev UI does. */
    private void open(String page) {
        String url = ConfigProvider.getConfig().getValue("test.url", String.class);
        browser.get(url + "/q/dev-ui/quarkus-model-sharing/" + page);
    }

    /** The text of the page's component once it contains {@code expected}; the Dev UI nests it in shadow roots. */
    private String waitForText(String component, String expected) {
        WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(30));
        try {
            return wait.until(driver -> {
                Object text = ((JavascriptExecutor) driver).executeScript(DEEP_QUERY
                        + "const c = deep(document, arguments[0]); return c && c.shadowRoot ? c.shadowRoot.textContent : null;",
                        component);
                return text instanceof String s && s.contains(expected) ? s : null;
            });
        } catch (RuntimeException e) {
            throw new AssertionError("The Dev UI's " + component + " did not show \"" + expected + "\" within 30 s; it shows: "
                    + ((JavascriptExecutor) browser).executeScript(DEEP_QUERY
                            + "const c = deep(document, arguments[0]); return c && c.shadowRoot ? c.shadowRoot.textContent : 'nothing';",
                            component),
                    e);
        }
    }

    private void click(String component, String selector) {
        WebElement button = (WebElement) ((JavascriptExecutor) browser).executeScript(DEEP_QUERY
                + "return deep(document, arguments[0]).shadowRoot.querySelector(arguments[1]);", component, selector);
        button.click();
    }

    /**
     * Takes a screenshot of the page once the Dev UI's own notifications have closed (offline, it reports that it
     * cannot reach the extension registry), so that they do not hide the card.
     */
    private void screenshot(String name) throws IOException {
        new WebDriverWait(browser, Duration.ofSeconds(30)).until(driver -> Boolean.TRUE.equals(((JavascriptExecutor) driver)
                .executeScript(DEEP_QUERY + "return deep(document, 'vaadin-notification-card') === null;")));
        Files.createDirectories(SCREENSHOTS);
        Path file = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE).toPath();
        Files.move(file, SCREENSHOTS.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * {@code deep(root, selector)}: the first element matching {@code selector} in {@code root} or any shadow root below it.
     */
    private static final String DEEP_QUERY = """
            function deep(root, selector) {
                const found = root.querySelector(selector);
                if (found) return found;
                for (const element of root.querySelectorAll('*')) {
                    if (element.shadowRoot) {
                        const inside = deep(element.shadowRoot, selector);
                        if (inside) return inside;
                    }
                }
                return null;
            }
            """;
}
