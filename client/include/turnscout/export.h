/* Symbol visibility of the turnscout client library. The library is built with hidden
 * visibility: only what is marked TURNSCOUT_API is exported. Plain C so that turnscout.h
 * can include it. */
#ifndef TURNSCOUT_EXPORT_H
#define TURNSCOUT_EXPORT_H

#if defined(TURNSCOUT_STATIC)
#define TURNSCOUT_API
#elif defined(__GNUC__) || defined(__clang__)
#define TURNSCOUT_API __attribute__((visibility("default")))
#else
#define TURNSCOUT_API
#endif

#endif /* TURNSCOUT_EXPORT_H */
