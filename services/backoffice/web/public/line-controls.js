import { post } from './api.js';
import { t } from './i18n.js';
import { reasonControls } from './reason-controls.js';

/**
 * Confirm or dispute a colleague's line operation (a cut or a restore recorded by duty staff), on
 * the approvals queue and on the handover page: confirming takes an optional note, disputing needs
 * one. The server refuses the recorder and anyone linked to them whatever a page shows; `done`
 * gets the operation as the server now has it.
 */
export function lineOperationControls(op, { label, done }) {
  return reasonControls({
    name: 'note',
    label,
    maxlength: 500,
    errorText: (err) => t('error', { message: err.message }),
    done,
    before: [
      {
        action: 'confirm-line',
        label: t('lines.confirm'),
        class: 'primary',
        send: (text) => post(`/api/line-operations/${op.id}/confirm`, text ? { note: text } : {}),
      },
    ],
    buttons: [
      {
        action: 'dispute-line',
        label: t('lines.dispute'),
        class: 'danger',
        required: t('lines.dispute.note'),
        send: (text) => post(`/api/line-operations/${op.id}/dispute`, { note: text }),
      },
    ],
  });
}
