package io.egressd.reload;

import io.egressd.policy.AllowlistLoader;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * What the allowlists directory looks like, cheaply: for each allowlist file, its name, size,
 * modification time and file key, following symlinks, plus where {@code ..data} points. Two
 * equal fingerprints mean nothing a reload would read has visibly changed. Following links is
 * what makes a Kubernetes ConfigMap swap visible: the names stay, the files behind them change.
 */
final class DirectoryFingerprint {

    private DirectoryFingerprint() {
    }

    static List<String> of(Path directory) {
        List<String> parts = new ArrayList<>();
        Path data = directory.resolve("..data");
        if (Files.isSymbolicLink(data)) {
            try {
                parts.add("..data -> " + Files.readSymbolicLink(data));
            } catch (IOException e) {
                parts.add("..data ? " + e.getClass().getSimpleName());
            }
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            for (Path entry : entries) {
                String name = entry.getFileName().toString();
                if (!AllowlistLoader.looksLikeAllowlist(name)) {
                    continue;
                }
                try {
                    BasicFileAttributes a = Files.readAttributes(entry, BasicFileAttributes.class);
                    parts.add(name + " " + a.size() + " " + a.lastModifiedTime() + " " + a.fileKey());
                } catch (IOException e) {
                    parts.add(name + " ? " + e.getClass().getSimpleName());
                }
            }
        } catch (IOException e) {
            parts.add("? " + e.getClass().getSimpleName());
        }
        parts.sort(null);
        return parts;
    }
}
