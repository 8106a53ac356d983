/* CXen shim: what Swift cannot import from libxen directly (function-like macros, barriers,
 * variadic logging), wrapped as static inline functions prefixed cxen_. */
#ifndef CXEN_SHIM_H
#define CXEN_SHIM_H
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <stdint.h>
#include <stddef.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenevtchn.h>
#include <xenstore.h>
#include <xendevicemodel.h>
#include <xentoollog.h>
#include <xen/vm_event.h>
#include <xen/io/ring.h>

/* A logger that prints only critical messages, so libxen never writes to our stderr on its own
 * (xc_interface_open prints "Could not obtain handle" outside dom0 otherwise). */
static inline xentoollog_logger *cxen_quiet_logger(void) {
    return (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_CRITICAL, 0);
}

#endif
