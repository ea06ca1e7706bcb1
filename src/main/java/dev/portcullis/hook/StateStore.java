package dev.portcullis.hook;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Small shared state that must survive a restart: greylist triplets, karma history, rate counters.
 * Deliberately narrow (GET, SET with expiry, INCRBY in a window, DEL), so that an embedded SQLite file and
 * a Redis server can both implement it. Keys are namespaced by the plugin that owns them. Thread-safe.
 */
public interface StateStore {
    Optional<String> get(String namespace, String key);

    /**
     * Several keys of one namespace in one read (Redis MGET): the live ones with their values; a missing or
     * expired key is absent from the map.
     */
    default Map<String, String> getAll(String namespace, List<String> keys) {
        Map<String, String> found = new HashMap<>();
        for (String k : keys) get(namespace, k).ifPresent(v -> found.put(k, v));
        return found;
    }

    void put(String namespace, String key, String value, Duration ttl);

    /**
     * Adds {@code delta} to a counter and returns the new value. A missing or expired counter starts at 0
     * and expires {@code window} after its creation: a fixed window, as Redis INCRBY + EXPIRE NX. Atomic, also
     * between processes sharing the store.
     */
    long increment(String namespace, String key, long delta, Duration window);

    void delete(String namespace, String key);
}
