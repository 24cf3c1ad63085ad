// `credence` from the sources (no build needed): node --import tsx bench/support/credence.ts serve --role worker
import { main } from '../../src/cli/main.js';

await main(process.argv);
