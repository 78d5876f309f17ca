/** The pages `npm run docs` regenerates and the docs spec checks. */
export const DOC_PATHS = ['README.md', 'docs'];
