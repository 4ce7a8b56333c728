// Sign-in screen. Wrong password and lockout are explained in words beside the form.
import { login } from './api.js';
import { h, field, input } from './dom.js';
import { busy, clearErrors, showError } from './ui.js';

// "in 15 minutes (at 08:25)" from a Retry-After in seconds.
export function retryText(seconds) {
  const at = new Date(Date.now() + seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (seconds < 60) return `in ${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return `in ${minutes} minute${minutes === 1 ? '' : 's'} (at ${at})`;
  return `in about ${Math.round(minutes / 60)} hours (at ${at})`;
}

export function viewLogin(app, { message, onSignedIn }) {
  const username = input('username', { autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true, id: 'username' });
  const password = input('password', { type: 'password', autocomplete: 'current-password', required: true, id: 'password' });
  const submit = h('button', { type: 'submit', class: 'btn primary block', id: 'login-submit' }, 'Sign in');
  const form = h('form', { class: 'login-card card', novalidate: true, 'aria-labelledby': 'login-title' },
    h('div', { class: 'login-brand' }, h('img', { src: 'favicon.svg', alt: '', width: 40, height: 40 })),
    h('h1', { id: 'login-title', text: 'Sign in to keyward' }),
    h('p', { class: 'muted center', text: 'The console for people who manage services, keys and members.' }),
    message ? h('p', { class: 'notice', role: 'status', text: message }) : null,
    field('Username', username),
    field('Password', password),
    h('div', { class: 'error-slot' }),
    h('div', { class: 'actions' }, submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    form.querySelector('.notice')?.remove();
    if (!username.value.trim()) return showError(form, { message: 'Enter your username.', field: 'username' });
    if (!password.value) return showError(form, { message: 'Enter your password.', field: 'password' });
    await busy(submit, async () => {
      submit.textContent = 'Signing in…';
      try {
        await login(username.value.trim(), password.value);
        onSignedIn();
      } catch (err) {
        submit.textContent = 'Sign in';
        if (err.status === 429) {
          const when = err.retryAfter ? retryText(err.retryAfter) : 'later';
          err.message = `Too many failed sign-in attempts. For your security, sign-in is paused: try again ${when}.`;
        } else if (err.status === 401) {
          err.message = 'The username or password is wrong. Check both and try again.';
          password.value = '';
        }
        showError(form, err);
        if (err.status === 401) password.focus();
      }
    });
  });

  app.replaceChildren(h('div', { class: 'login-wrap' }, form,
    h('p', { class: 'muted small center', text: 'Machines do not sign in here: they use API keys.' })));
  username.focus();
}
