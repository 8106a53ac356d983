/* readline needs stdio.h first; no pkg-config (its -D flags are rejected by SwiftPM). */
#ifndef CREADLINE_SHIM_H
#define CREADLINE_SHIM_H
#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>
#endif
