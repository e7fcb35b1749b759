/* Routes libav's log messages into hlsd's log (owner: media engineer) and
 * remembers the last error-level message of the calling thread, so a
 * failure can be reported with libav's precise cause ("moov atom not found")
 * instead of only the generic error code. */
#ifndef HLSD_MEDIA_AVLOG_H
#define HLSD_MEDIA_AVLOG_H

#include <stddef.h>

/* Installs the callback (idempotent, thread-safe). libav errors are logged
 * at info, warnings at debug, the rest dropped. */
void media_avlog_init(void);

/* Forgets the calling thread's last libav error. */
void media_avlog_clear(void);

/* Error-level messages from video decoders since the process started (any thread:
 * frame-threaded decoders log from their own): damage the decoder concealed
 * without flagging the frame. */
unsigned media_avlog_decoder_errors(void);
/* The calling thread's last libav error message ("" when none); valid until
 * the thread's next libav call. */
const char *media_avlog_last_error(void);

#endif
