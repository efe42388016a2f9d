/*
 * Desktop notifications of new mail (DESIGN.md "tells the desktop when new
 * mail arrives"), a consumer of the event bus:
 * org.freedesktop.Notifications.Notify on the user's session bus, through
 * sd-bus driven by the event loop. A poll's new mail makes one
 * notification, sent when the poll ends: the sender and subject of a
 * single message, or "N new messages in ACCOUNT" for several. Without a
 * session bus this is silently off, and tried again the next time there is
 * mail to announce.
 */
#ifndef MAILCTL_DESKTOP_H
#define MAILCTL_DESKTOP_H

struct bus;
struct config;
struct event_base;

void	desktop_init(struct event_base *, struct bus *, const struct config *);
void	desktop_reconfigure(const struct config *);
void	desktop_shutdown(void);

#endif
