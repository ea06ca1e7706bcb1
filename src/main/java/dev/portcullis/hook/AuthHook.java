package dev.portcullis.hook;

/**
 * SMTP AUTH (RFC 4954). Ok means the credentials are good: the session is authenticated as the username.
 * Deny answers the refusal (535 5.7.8, or 421 4.7.0 with disconnect for a locked-out client); DenySoft a
 * temporary failure (454 4.7.0). When every plugin declines, 535 5.7.8: nobody vouched for the login.
 */
public interface AuthHook extends Plugin {
    HookResult onAuth(AuthContext ctx);
}
