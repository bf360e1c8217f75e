/** The sidebar's icon: a checked list. `jp-icon3` lets the theme recolour it. */

import { LabIcon } from "@jupyterlab/ui-components";

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 5.5l1.4-1.4 1.6 1.6 3.1-3.1 1.4 1.4L6 8.5z"/>
    <path d="M12 5h9v2h-9zM12 11h9v2h-9zM12 17h9v2h-9z"/>
    <path d="M3 10h6v4H3zM3 16h6v4H3z"/>
  </g>
</svg>`;

export const taskbookIcon = new LabIcon({ name: "taskbook:sidebar", svgstr: SVG });
