import { QwcHotReloadElement, css } from 'qwc-hot-reload-element';
import { JsonRpc } from 'jsonrpc';
import { notifier } from 'notifier';

/** What the card's pages share: how their tables look, and the messages in place of an empty one. */
export const pageStyles = css`
    :host { display: block; padding: 10px 20px; }
    table { border-collapse: collapse; font-size: var(--lumo-font-size-s); }
    th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--lumo-contrast-10pct); }
    th { color: var(--lumo-secondary-text-color); font-weight: 600; }
    td.number { text-align: right; font-variant-numeric: tabular-nums; }
    .message { padding: 10px 0; color: var(--lumo-secondary-text-color); }
`;

/**
 * A page of the card that reads its data again every two seconds while it is shown: a subclass says what to read in
 * hotReload(), which also runs after a live reload of the application.
 */
export class QwcModelSharingPage extends QwcHotReloadElement {

    /** What the last action said, which a page shows under its table. */
    static properties = {
        _message: { state: true }
    };

    jsonRpc = new JsonRpc(this);

    connectedCallback() {
        super.connectedCallback();
        this.hotReload();
        this._timer = setInterval(() => this.hotReload(), 2000);
    }

    disconnectedCallback() {
        clearInterval(this._timer);
        super.disconnectedCallback();
    }

    /** Calls an action of the service; says what it did, or why it did nothing, and reads the page's data again. */
    _act(method, params) {
        this.jsonRpc[method](params).then(response => {
            const result = response.result;
            this._message = result.message;
            if (result.done) {
                notifier.showSuccessMessage(result.message);
            } else {
                notifier.showWarningMessage(result.message);
            }
            this.hotReload();
        });
    }
}

/** 1536 as "1.5 KiB". */
export function bytes(count) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = count;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit++;
    }
    return (unit === 0 ? value : value.toFixed(1)) + ' ' + units[unit];
}
