package dev.portcullis.smtp;

import dev.portcullis.net.ByteScan;

/**
 * What the content rules need to know about a received message, found in one pass: whether every line
 * ends in CRLF (BDAT content is not framed by lines, so it can carry bare CR/LF), the longest line, and
 * whether it holds a NUL, and how many Received fields its header has (mail loop detection, RFC 5321 6.3).
 */
record ContentCheck(boolean bareLineEnding, boolean nul, int longestLine, int receivedHeaders) {

    static ContentCheck of(byte[] b, int len) {
        boolean bare = false, nul = false;
        int longest = 0, received = 0;
        boolean inHeader = true;
        int lineStart = 0;
        // from one CR, LF or NUL to the next: the octets between them need no look (ByteScan says why)
        for (int i = ByteScan.lineBreakOrNul(b, 0, len); i < len; i = ByteScan.lineBreakOrNul(b, i + 1, len)) {
            byte c = b[i];
            if (c == '\r') {
                if (i + 1 >= len || b[i + 1] != '\n') { bare = true; continue; }
                int lineLength = i - lineStart + 2; // with CRLF, as RFC 5321 4.5.3.1.6 counts
                if (lineLength > longest) longest = lineLength;
                if (inHeader) {
                    if (i == lineStart) inHeader = false;
                    else if (startsWithIgnoreCase(b, lineStart, i, "received:")) received++;
                }
                i++;
                lineStart = i + 1;
            } else if (c == '\n') {
                bare = true;
            } else {
                nul = true;
            }
        }
        if (len - lineStart > longest) longest = len - lineStart;
        return new ContentCheck(bare, nul, longest, received);
    }

    private static boolean startsWithIgnoreCase(byte[] b, int from, int to, String prefix) {
        if (to - from < prefix.length()) return false;
        for (int k = 0; k < prefix.length(); k++) {
            int c = b[from + k];
            if (c >= 'A' && c <= 'Z') c += 32;
            if (c != prefix.charAt(k)) return false;
        }
        return true;
    }
}
