//! What an age plugin may ask: on the terminal (the CLI) or nothing at all (the installer).

use age::secrecy::SecretString;

/// Callbacks for age plugins run unattended (the installer): messages are logged, every
/// question is declined, so a plugin needing a PIN fails instead of waiting on a terminal.
#[derive(Clone, Copy)]
pub struct NoQuestions;

impl age::Callbacks for NoQuestions {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, _: &str, _: &str, _: Option<&str>) -> Option<bool> {
        None
    }

    fn request_public_string(&self, _: &str) -> Option<String> {
        None
    }

    fn request_passphrase(&self, _: &str) -> Option<SecretString> {
        None
    }
}

/// Callbacks for age plugins: messages and questions go to the terminal.
#[derive(Clone, Copy)]
pub struct TerminalCallbacks;

impl age::Callbacks for TerminalCallbacks {
    fn display_message(&self, message: &str) {
        eprintln!("{message}");
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        let q = match no_string {
            Some(no) => format!("{message} [{yes_string}/{no}]: "),
            None => format!("{message} [{yes_string}]: "),
        };
        let answer = rpassword::prompt_password(q).ok()?;
        Some(answer.trim().eq_ignore_ascii_case(yes_string))
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        rpassword::prompt_password(format!("{description}: ")).ok()
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        rpassword::prompt_password(format!("{description}: "))
            .ok()
            .map(SecretString::from)
    }
}
