/*
 * Desktop notifications of new mail (DESIGN.md "tells the desktop when new
 * mail arrives"): org.freedesktop.Notifications.Notify on the user's
 * session bus, through sd-bus driven by the event loop. A poll's new mail
 * makes one notification: the sender and subject of a single message, or
 * "N new messages in ACCOUNT" for several. Without a session bus this is
 * silently off, and tried again the next time there is mail to announce.
 */
#ifndef MAILCTL_DESKTOP_H
#define MAILCTL_DESKTOP_H

struct event_base;

void	desktop_init(struct event_base *);
void	desktop_new_mail(const char *account, const char *from,
	    const char *subject);
void	desktop_poll_done(const char *account);
void	desktop_shutdown(void);

#endif
