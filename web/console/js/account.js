// The signed-in person's own account: change password (asks for the current one).
import { api, clearSession, enc, session } from './api.js';
import { h, field, input } from './dom.js';
import { button, modal } from './ui.js';

// onChanged runs after a successful change: the server ends the person's sessions, so they sign in again.
export function passwordDialog(onChanged) {
  const current = input('currentPassword', { type: 'password', id: 'pw-current', autocomplete: 'current-password' });
  const next = input('password', { type: 'password', id: 'pw-new', autocomplete: 'new-password' });
  const again = input('passwordAgain', { type: 'password', id: 'pw-again', autocomplete: 'new-password' });
  const m = modal('Change password', {
    id: 'password-dialog',
    size: 'sm',
    body: [
      h('input', { type: 'text', name: 'username', autocomplete: 'username', value: session.user.username, hidden: true, 'aria-hidden': 'true', tabindex: -1 }),
      field('Current password', current),
      field('New password', next, { hint: '12 to 256 characters. A passphrase of a few words works well.' }),
      field('New password again', again),
      h('p', { class: 'hint', text: 'After the change you sign in again, and your other sessions end.' }),
    ],
    actions: [
      button('Cancel', { onclick: () => m.close() }, 'secondary'),
      h('button', { type: 'submit', class: 'btn primary', id: 'pw-submit' }, 'Change password'),
    ],
    onSubmit: async () => {
      const err = (message, f) => Object.assign(new Error(message), { field: f });
      if (!current.value) throw err('Enter your current password.', 'currentPassword');
      if (next.value.length < 12) throw err('The new password needs at least 12 characters.', 'password');
      if (next.value !== again.value) throw err('The two new passwords differ.', 'passwordAgain');
      if (next.value === current.value) throw err('Choose a password different from the current one.', 'password');
      await api('PATCH', `/api/v1/users/${enc(session.user.username)}`, { currentPassword: current.value, password: next.value });
      m.close();
      clearSession();
      onChanged();
    },
  });
}
