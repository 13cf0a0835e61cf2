// ESLint, type-checked (typescript-eslint's recommendedTypeChecked), with Prettier's formatting rules turned
// off (Prettier itself checks formatting). `npm run lint` runs both and the strict typecheck; CI runs it.
import js from "@eslint/js";
import prettier from "eslint-config-prettier";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".ci/**", "coverage/**", "bench-results/**", "tools/**", "**/*.js", "**/*.mjs", "**/*.cjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { project: "./tsconfig.test.json", tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Port implementations and SDK callbacks return promises by contract, with or without an await inside.
      "@typescript-eslint/require-await": "off",
      // `_` names a deliberately unused binding (a loop that only drains a generator, a skipped argument).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Tests read parsed JSON responses (`any` by nature) member by member to assert on them, and match
    // control characters on purpose.
    files: ["test/**/*.ts"],
    rules: {
      "no-control-regex": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  prettier,
);
