// react-dom ships no types of its own; the client test only needs this one function
declare module 'react-dom/server' {
  export function renderToString(element: import('react').ReactNode): string
}
