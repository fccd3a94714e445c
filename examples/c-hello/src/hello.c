/* Compresses a greeting with zlib and decompresses it again: proof that the
 * program found libz.so.1 in the image. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int main(void) {
    const char *greeting = "hello from cairn, built in a sandbox";
    unsigned char packed[256], unpacked[256];
    uLongf packed_len = sizeof packed, unpacked_len = sizeof unpacked;
    if (compress(packed, &packed_len, (const Bytef *)greeting, strlen(greeting) + 1) != Z_OK ||
        uncompress(unpacked, &unpacked_len, packed, packed_len) != Z_OK) {
        fprintf(stderr, "zlib failed\n");
        return 1;
    }
    printf("%s (zlib %s, %lu bytes compressed)\n", (const char *)unpacked, zlibVersion(),
           (unsigned long)packed_len);
    return 0;
}
