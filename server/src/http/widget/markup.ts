/**
 * The markup of `<scrollback-chat>`'s shadow root, cloned afresh for every
 * session so that no listener or node of an earlier session survives.
 * Test ids are part of the contract (PROTOCOL.md §6).
 */
export const MARKUP = `
<section class="shell" aria-label="Chat">
  <header class="topbar">
    <div class="brand">
      <svg class="logo" viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="9"/><path d="M9 11h14M9 16h10M9 21h6"/></svg>
      <div>
        <p class="title">scrollback</p>
        <p class="subtitle">Your recent conversation, on every tab</p>
      </div>
    </div>
    <div class="session">
      <span class="status" data-testid="status" data-status="connecting" role="status"><i aria-hidden="true"></i><span>Connecting…</span></span>
      <button class="user-chip" type="button" data-testid="user" title="Switch user" hidden></button>
      <button class="icon-button" type="button" data-action="clear" title="Clear history" aria-label="Clear history" hidden>
        <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V4h6v3"/></svg>
      </button>
    </div>
  </header>

  <div class="log" data-testid="log" role="log" aria-live="polite" aria-label="Messages" tabindex="0">
    <div class="empty" hidden>
      <div class="empty-art" aria-hidden="true"><span></span><span></span><span></span></div>
      <p class="empty-title">No messages yet</p>
      <p class="empty-text">Say hello. Messages are kept for a day and show up live in your other tabs.</p>
    </div>
    <ol class="messages"></ol>
  </div>

  <footer class="dock">
    <p class="error" data-testid="error" role="alert" hidden></p>
    <form class="composer" autocomplete="off">
      <textarea data-testid="composer" rows="1" placeholder="Write a message…" aria-label="Message" disabled></textarea>
      <button class="send" type="submit" data-testid="send" aria-label="Send" disabled>
        <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 12l16-8-6 16-2.5-6.5z"/><path d="M11.5 13.5L20 4"/></svg>
      </button>
    </form>
    <p class="hint"><kbd>Enter</kbd> to send · <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line · written offline, sent when you are back</p>
  </footer>

  <div class="gate" hidden>
    <form class="card sign-in" data-gate="dev" hidden>
      <h2>Who are you?</h2>
      <p>This server runs in dev mode: pick any user id to try the widget. Open a second tab with the same id to see messages arrive live.</p>
      <label for="user-id">User id</label>
      <input id="user-id" name="userId" data-testid="user-id" required maxlength="128" placeholder="e.g. team_lead_001" autocomplete="username" spellcheck="false">
      <small>Letters, digits and <code>_ . @ : -</code></small>
      <button type="submit" data-testid="start">Start chatting</button>
    </form>
    <div class="card" data-gate="token" hidden>
      <h2>Sign-in needed</h2>
      <p>This widget has no credentials yet: give it a <code>token-url</code> or a <code>getToken</code> function (or, on the demo page, open it with <code>#token=&lt;JWT&gt;</code> or <code>?tokenUrl=/path</code>).</p>
    </div>
  </div>
</section>`;
