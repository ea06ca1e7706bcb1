package dev.portcullis.plugins.rspamd;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A client of rspamd's normal worker: {@code POST /checkv2} with the message as the body and the envelope in
 * request headers (rspamd's protocol: {@code IP}, {@code Helo}, {@code From}, one {@code Rcpt} per recipient,
 * {@code User}, {@code Queue-Id}, {@code Hostname}, {@code MTA-Name}), and back a JSON object whose
 * {@code action} is rspamd's recommendation.
 *
 * HTTP/1.1 only: rspamd does not speak HTTP/2, and an h2c upgrade offer is noise to it. Header values go on
 * the wire as UTF-8 (SMTPUTF8 addresses), control characters replaced.
 */
final class RspamdClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** A /checkv2 answer is a few kilobytes; one far larger is not rspamd's. */
    private static final int MAX_ANSWER = 4 << 20;

    /** What rspamd recommends, and what it would change in the message. */
    record Answer(String action, double score, double required, List<String> symbols, String subject,
                  Map<String, List<String>> addHeaders, Map<String, Integer> removeHeaders, String smtpMessage) {}

    /** rspamd could not be reached, did not answer in time, or answered something else than a verdict. */
    static final class ScanException extends IOException {
        ScanException(String message) { super(message); }
    }

    private final HttpClient http;
    private final URI uri;
    private final Duration timeout;

    RspamdClient(URI uri, Duration timeout) {
        this.uri = uri;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    URI uri() { return uri; }

    /** @param headers the envelope: name, value pairs, in order (a name may repeat) */
    Answer check(List<Map.Entry<String, String>> headers, byte[] message) throws ScanException {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(timeout)
                .POST(HttpRequest.BodyPublishers.ofByteArray(message));
        for (Map.Entry<String, String> h : headers) request.header(h.getKey(), wire(h.getValue()));
        HttpResponse<byte[]> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (HttpTimeoutException e) {
            throw new ScanException("timed out after " + describe(timeout));
        } catch (java.net.ConnectException e) { // HttpClient's carries no message
            throw new ScanException("cannot connect" + (e.getMessage() == null ? "" : ": " + e.getMessage()));
        } catch (IOException e) {
            throw new ScanException(e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ScanException("interrupted");
        }
        if (response.statusCode() != 200)
            throw new ScanException("rspamd answered HTTP " + response.statusCode() + snippet(response.body()));
        if (response.body().length > MAX_ANSWER) throw new ScanException("answer longer than " + MAX_ANSWER + " octets");
        return parse(response.body());
    }

    /** The /checkv2 JSON object; {@code action} and {@code score} are required, the rest optional. */
    static Answer parse(byte[] body) throws ScanException {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw new ScanException("answer is not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ScanException("answer could not be read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) throw new ScanException("answer is not a JSON object");
        if (root.has("error")) throw new ScanException("rspamd: " + printable(root.path("error").asText()));
        JsonNode action = root.get("action");
        JsonNode score = root.get("score");
        if (action == null || !action.isTextual()) throw new ScanException("answer has no action");
        if (score == null || !score.isNumber()) throw new ScanException("answer has no score");
        List<String> symbols = new ArrayList<>();
        for (var e : root.path("symbols").properties()) symbols.add(e.getKey());
        String subject = root.path("subject").isTextual() ? root.path("subject").asText() : null;
        Map<String, List<String>> add = new LinkedHashMap<>();
        Map<String, Integer> remove = new LinkedHashMap<>();
        JsonNode milter = root.path("milter");
        for (var e : milter.path("add_headers").properties()) add.put(e.getKey(), values(e.getValue()));
        for (var e : milter.path("remove_headers").properties())
            remove.put(e.getKey(), e.getValue().isNumber() ? e.getValue().asInt() : 0);
        String smtpMessage = root.path("messages").path("smtp_message").isTextual()
                ? root.path("messages").path("smtp_message").asText() : null;
        return new Answer(action.asText(), score.asDouble(), root.path("required_score").asDouble(Double.NaN),
                List.copyOf(symbols), subject, add, remove, smtpMessage);
    }

    /** An added header's value: a string, {"value": ..., "order": n}, or a list of either. */
    private static List<String> values(JsonNode v) {
        List<String> out = new ArrayList<>();
        if (v.isArray()) {
            for (JsonNode item : v) out.addAll(values(item));
        } else if (v.isObject()) {
            if (v.path("value").isValueNode()) out.add(v.path("value").asText());
        } else if (v.isValueNode()) {
            out.add(v.asText());
        }
        return out;
    }

    /** UTF-8 octets as the Latin-1 characters HttpClient writes one to one; no control characters. */
    static String wire(String value) {
        String clean = value.replaceAll("[\\x00-\\x1f\\x7f]", "?");
        return new String(clean.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    }

    private static String snippet(byte[] body) {
        if (body.length == 0) return "";
        return ": " + printable(new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8));
    }

    private static String printable(String s) {
        String t = s.replaceAll("[\\x00-\\x1f\\x7f]", " ").strip();
        return t.length() > 100 ? t.substring(0, 100) + "..." : t;
    }

    static String describe(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }

    void close() { http.shutdownNow(); }
}
