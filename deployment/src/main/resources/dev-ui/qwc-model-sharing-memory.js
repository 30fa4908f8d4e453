import { html, css } from 'qwc-hot-reload-element';
import { QwcModelSharingPage, pageStyles, bytes } from './qwc-model-sharing-page.js';
import '@vaadin/progress-bar';

/**
 * The shared-memory page: this process's pools, how full they are and how far they may grow. It reads them again
 * every two seconds while it is shown.
 */
export class QwcModelSharingMemory extends QwcModelSharingPage {

    static styles = [pageStyles, css`
        vaadin-progress-bar { width: 320px; }
    `];

    static properties = {
        _memory: { state: true }
    };

    hotReload() {
        this.jsonRpc.getSharedMemory().then(response => this._memory = response.result);
    }

    render() {
        const memory = this._memory;
        if (!memory) {
            return html`<vaadin-progress-bar indeterminate></vaadin-progress-bar>`;
        }
        if (memory.kind === 'off-heap') {
            return html`<div class="message">Shared memory is off, or unusable here: tensors use this process's memory
                and travel serialized (see quarkus.model-sharing.shared-memory.enabled and the startup log).</div>`;
        }
        return html`
            <table id="memory">
                <tr><th>Pools</th><td>${memory.kind}${memory.directory ? html` in ${memory.directory}` : ''}</td></tr>
                <tr><th>Pool files</th><td>${memory.files} of ${bytes(memory.poolFileBytes)} each</td></tr>
                <tr><th>Used</th><td>${bytes(memory.usedBytes)} of ${bytes(memory.mappedBytes)} mapped
                    <vaadin-progress-bar value="${memory.mappedBytes > 0 ? memory.usedBytes / memory.mappedBytes : 0}"></vaadin-progress-bar></td></tr>
                <tr><th>Quota</th><td>${bytes(memory.quotaBytes)}
                    <vaadin-progress-bar value="${memory.quotaBytes > 0 ? memory.mappedBytes / memory.quotaBytes : 0}"></vaadin-progress-bar></td></tr>
            </table>`;
    }
}

customElements.define('qwc-model-sharing-memory', QwcModelSharingMemory);
